/**
 * Expands the command line's files, directories (every *.sql below, recursively) and globs
 * (`*`, `**`, `?`, `{a,b}`, `[abc]`; quoted so the shell does not expand them) into SQL files.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories.
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const close = glob.indexOf('}', i);
      if (close === -1) re += '\\{';
      else {
        re += `(?:${glob
          .slice(i + 1, close)
          .split(',')
          .map((p) => p.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
          .join('|')})`;
        i = close;
      }
    } else if (c === '[') {
      const close = glob.indexOf(']', i);
      if (close === -1) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, close).replace(/^!/, '^')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const isGlob = (s: string) => /[*?{[]/.test(s);

function walkSql(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkSql(p, out);
    else if (e.isFile() && e.name.toLowerCase().endsWith('.sql')) out.push(p);
  }
}

function walkAll(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === '.git') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkAll(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/** Files to lint, sorted within each argument, without duplicates. `-` means standard input. */
export function expandInputs(inputs: string[], exclude: string[] = [], cwd = process.cwd()): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const excluded = exclude.map(globToRegExp);
  const add = (f: string) => {
    const rel = path.relative(cwd, path.resolve(cwd, f)).split(path.sep).join('/');
    if (excluded.some((re) => re.test(rel))) return;
    if (!seen.has(rel)) {
      seen.add(rel);
      out.push(f === '-' ? '-' : rel.startsWith('..') || path.isAbsolute(f) ? f : rel);
    }
  };
  for (const input of inputs) {
    if (input === '-') {
      add('-');
      continue;
    }
    if (isGlob(input)) {
      const norm = input.split(path.sep).join('/');
      const firstGlob = norm.search(/[*?{[]/);
      const baseEnd = norm.lastIndexOf('/', firstGlob);
      const base = baseEnd === -1 ? '.' : norm.slice(0, baseEnd) || '/';
      const re = globToRegExp(norm);
      const files: string[] = [];
      try {
        walkAll(path.resolve(cwd, base), files);
      } catch {
        /* no such base directory: no match */
      }
      const matched = files
        .map((f) => {
          const r = path.relative(cwd, f).split(path.sep).join('/');
          return path.isAbsolute(norm) ? f.split(path.sep).join('/') : r;
        })
        .filter((f) => re.test(f) || re.test(`./${f}`))
        .sort();
      if (matched.length === 0) throw new InvalidInputError(`no file matches ${input}`, {}, 'quote globs so the shell passes them as written');
      matched.forEach(add);
      continue;
    }
    let st;
    try {
      st = statSync(path.resolve(cwd, input));
    } catch {
      throw new InvalidInputError(`no such file or directory: ${input}`);
    }
    if (st.isDirectory()) {
      const files: string[] = [];
      walkSql(path.resolve(cwd, input), files);
      files.sort();
      if (files.length === 0) throw new InvalidInputError(`no .sql file under ${input}`);
      for (const f of files) add(path.relative(cwd, f));
    } else add(input);
  }
  return out;
}
