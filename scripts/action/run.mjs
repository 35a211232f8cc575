#!/usr/bin/env node
// The steps of the GitHub Action (action.yml at the repository root), in plain node so that they
// run before anything is built. Inputs come as INPUT_* environment variables (set by action.yml);
// outputs go to $GITHUB_OUTPUT, the job summary to $GITHUB_STEP_SUMMARY, annotations to stdout.
// The database URL is only ever passed in the environment (TANDEM_DATABASE_URL), never on a
// command line or in a log. The step's exit code is tandem's (0 ok, 1 failed, 2 invalid input).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const input = (name, fallback = '') => (process.env[`INPUT_${name.toUpperCase().replace(/-/g, '_')}`] ?? '').trim() || fallback;

/** The tandem command: `tandem-command` input (e.g. "npx tandem"), else this repository's bin. */
function tandemArgv() {
  const custom = input('tandem-command');
  if (custom) return custom.split(/\s+/);
  return [process.execPath, path.join(here, '..', '..', 'bin', 'tandem.js')];
}

function globalArgs() {
  const args = ['--schema', input('schema', 'public')];
  if (input('wait', 'false') === 'true') args.push('--wait');
  const lockTimeout = input('lock-timeout');
  if (lockTimeout) args.push('--lock-timeout', lockTimeout);
  return args;
}

/** Runs tandem; resolves with its exit code and output (stderr is also passed through to the log). */
function tandem(args) {
  const [cmd, ...pre] = tandemArgv();
  return new Promise((resolve) => {
    const child = spawn(cmd, [...pre, ...globalArgs(), ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on('error', (err) => resolve({ code: 2, stdout, stderr: `${stderr}${err.message}\n` }));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function setOutput(name, value) {
  const file = process.env['GITHUB_OUTPUT'];
  const text = String(value);
  if (!file) return;
  if (!text.includes('\n')) appendFileSync(file, `${name}=${text}\n`);
  else {
    const delimiter = `tandem_${randomBytes(8).toString('hex')}`;
    appendFileSync(file, `${name}<<${delimiter}\n${text}\n${delimiter}\n`);
  }
}

function summary(markdown) {
  const file = process.env['GITHUB_STEP_SUMMARY'];
  if (file) appendFileSync(file, `${markdown}\n`);
}

function json(r) {
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const fence = (text) => `\`\`\`\n${text.replace(/```/g, "'''").trimEnd()}\n\`\`\``;

/** The error line(s) of a failed command, for the summary. */
function errorText(r) {
  const doc = json(r);
  return doc?.error?.message ?? (r.stderr.trim() || `exit ${r.code}`);
}

/** One annotation of tandem's GitHub format: ::severity file=…,line=…,title=tandem lint%3A rule::message%0Awhy… */
function parseAnnotation(line) {
  const m = /^::(error|warning|notice) ([^:]*)::(.*)$/.exec(line);
  if (!m) return undefined;
  const unescape = (v) => v.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  const props = Object.fromEntries(m[2].split(',').map((p) => [p.slice(0, p.indexOf('=')), unescape(p.slice(p.indexOf('=') + 1))]));
  const [message, ...rest] = unescape(m[3]).split('\n');
  const safe = rest.find((l) => l.startsWith('safe: '))?.slice(6) ?? '';
  return { severity: m[1], file: props.file, line: props.line, rule: (props.title ?? '').replace(/^tandem lint: /, ''), message, safe };
}

async function lint() {
  const paths = input('paths', input('dir', 'migrations')).split(/\s+/);
  // Annotations (::error file=…,line=…::) from tandem's own GitHub formatter, on stdout; the
  // summary is read back from them and from its last line (the counts).
  const r = await tandem(['lint', '--format', 'github', ...paths]);
  process.stdout.write(r.stdout);
  const lines = r.stdout.split('\n');
  const counts = /^tandem lint: (\d+) error\(s\), (\d+) warning\(s\).* in (\d+) file\(s\)/m.exec(r.stdout);
  if (!counts) {
    summary(`### tandem lint: exit ${r.code}\n\n${fence(r.stderr || r.stdout)}`);
    return r.code;
  }
  const [, errors, warnings, files] = counts;
  setOutput('errors', errors);
  setOutput('warnings', warnings);
  const findings = lines.map(parseAnnotation).filter(Boolean);
  const out = [`### tandem lint: ${errors} error(s), ${warnings} warning(s) in ${files} file(s)`, ''];
  if (findings.length) {
    out.push('| | file | rule | finding | safe way |', '|---|---|---|---|---|');
    for (const f of findings) out.push(`| ${f.severity === 'error' ? '❌' : '⚠️'} | \`${cell(f.file)}:${f.line}\` | ${cell(f.rule)} | ${cell(f.message)} | ${cell(f.safe)} |`);
  } else out.push('No finding.');
  summary(out.join('\n'));
  return r.code;
}

async function plan() {
  const dir = input('dir', 'migrations');
  const args = ['plan', dir];
  if (input('estimate', 'true') !== 'true') args.push('--no-estimate');
  const r = await tandem(args);
  const title = r.code === 0 ? `### tandem plan: \`${dir}\`` : `### tandem plan: \`${dir}\` — exit ${r.code}`;
  const body = [
    title,
    '',
    r.code === 0 ? fence(r.stdout) : fence(`${r.stdout}${r.stderr}`),
    '',
    '<sub>tandem plan: every statement of start/complete/rollback, its lock and an estimate.</sub>',
  ].join('\n');
  const file = path.join(process.env['RUNNER_TEMP'] || os.tmpdir(), `tandem-plan-${randomBytes(4).toString('hex')}.md`);
  writeFileSync(file, `${body}\n`);
  setOutput('comment-body-file', file);
  setOutput('comment-body', body);
  summary(body);
  return r.code;
}

/** The latest version schema after a command, for the app's search_path. */
async function latestSchema() {
  const doc = json(await tandem(['--json', 'latest']));
  return doc?.versionSchema ?? '';
}

async function lifecycle(command) {
  const args = command === 'migrate' ? ['--json', 'migrate', input('dir', 'migrations'), ...(input('complete', 'false') === 'true' ? ['--complete'] : [])] : ['--json', command];
  const r = await tandem(args);
  const doc = json(r);
  // migrate's document has the latest version; complete's versionSchema is it; after a rollback, ask.
  const latest = doc?.latest?.versionSchema ?? (command === 'complete' ? doc?.versionSchema : undefined) ?? (r.code === 0 ? await latestSchema() : '');
  setOutput('latest-schema', latest);
  if (doc?.leftActive) setOutput('left-active', doc.leftActive);
  const lines = [`### tandem ${command}: ${r.code === 0 ? 'done' : `failed (exit ${r.code})`}`, ''];
  if (r.code !== 0) lines.push(fence(errorText(r)), '');
  for (const a of doc?.actions ?? []) lines.push(`- ${a.kind} \`${a.migration}\` (${a.file})`);
  if (doc?.alreadyDone) lines.push(`- already ${command === 'complete' ? 'completed' : 'rolled back'}: \`${doc.migration}\``);
  else if (doc?.migration && !doc.actions) lines.push(`- ${command === 'complete' ? 'completed' : 'rolled back'} \`${doc.migration}\``);
  if (latest) lines.push('', `Latest version schema: \`${latest}\` — the new app connects with \`search_path=${latest}\`.`);
  summary(lines.join('\n'));
  return r.code;
}

const commands = { lint, plan, migrate: () => lifecycle('migrate'), complete: () => lifecycle('complete'), rollback: () => lifecycle('rollback') };
const command = input('command');
if (!(command in commands)) {
  process.stderr.write(`tandem action: unknown command "${command}"; expected one of ${Object.keys(commands).join(', ')}\n`);
  process.exit(2);
}
process.exitCode = await commands[command]();
