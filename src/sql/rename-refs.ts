import { loadModule, scanSync } from 'libpg-query';
import { ident } from './ident.js';

let loaded: Promise<void> | undefined;
let ready = false;

/** The PostgreSQL scanner (WASM) must be loaded once before `renameColumnRefs`. */
export function loadScanner(): Promise<void> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  return loaded;
}

/** Whether loadScanner() has finished: the helpers below scan synchronously. */
export function scannerReady(): boolean {
  return ready;
}

function unquote(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text.toLowerCase();
}

/**
 * Replace references to column `from` by `to` in SQL that PostgreSQL itself printed
 * (pg_get_indexdef, pg_get_constraintdef) or a user's expression, using PostgreSQL's own scanner:
 * string literals, qualified names (x.from) and function calls (from(...)) are left alone. Only
 * the text from `startAt` on is rewritten (e.g. past "ON table USING method").
 */
export function renameColumnRefs(sql: string, from: string, to: string, startAt = 0): string {
  const tokens = scanSync(sql).tokens;
  const bytes = Buffer.from(sql, 'utf8');
  let out = '';
  let pos = 0;
  tokens.forEach((t, i) => {
    if (t.start < startAt) return;
    const isName = t.tokenName === 'IDENT' || (t.keywordKind > 0 && t.keywordKind < 4);
    if (!isName || unquote(t.text) !== from) return;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    if (prev && prev.text === '.') return;
    if (next && next.text === '(') return;
    out += bytes.subarray(pos, t.start).toString('utf8') + ident(to);
    pos = t.end;
  });
  return out + bytes.subarray(pos).toString('utf8');
}

/** Byte offset just past the first match of `pattern` among the tokens' texts, e.g. the USING of an index. */
export function offsetAfterKeyword(sql: string, keyword: string): number {
  const t = scanSync(sql).tokens.find((tok) => tok.text.toUpperCase() === keyword);
  return t ? t.end : 0;
}

/**
 * The names an SQL fragment may use as column references: every identifier or keyword token,
 * unquoted (a superset: function names and keywords are in it too). undefined when the
 * scanner cannot read the fragment (the trials then report it).
 */
export function nameTokens(sql: string): string[] | undefined {
  try {
    return scanSync(sql)
      .tokens.filter((t) => t.tokenName === 'IDENT' || t.keywordKind > 0)
      .map((t) => unquote(t.text));
  } catch {
    return undefined;
  }
}

/** The column name when the fragment is nothing but one identifier (`"score"`, `score`), else undefined. */
export function soleIdentifier(sql: string): string | undefined {
  try {
    const tokens = scanSync(sql).tokens;
    return tokens.length === 1 && tokens[0]!.tokenName === 'IDENT' ? unquote(tokens[0]!.text) : undefined;
  } catch {
    return undefined;
  }
}
