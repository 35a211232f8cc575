import { codeOf, exitCodeOf, TandemError } from '../errors.js';

/**
 * How the CLI reports an error that ended a command: a short message on stderr, never a stack
 * trace (unless TANDEM_DEBUG=1), and with --json one document carrying the error's stable `code`.
 */
export interface ErrorReport {
  /** For stderr: the message, then indented detail/hint lines. */
  text: string;
  /** For --json: `{ error: … }`. */
  json: { error: Record<string, unknown> };
  exitCode: number;
}

/** The fields PostgreSQL sends with an error (node-postgres' DatabaseError), when `err` is one. */
interface PostgresErrorFields {
  message: string;
  code: string;
  severity: string;
  detail?: string;
  hint?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

export function isPostgresError(err: unknown): err is PostgresErrorFields {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Partial<PostgresErrorFields>;
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

export function reportError(err: unknown, debug = process.env['TANDEM_DEBUG'] === '1'): ErrorReport {
  const exitCode = exitCodeOf(err);
  const code = codeOf(err);
  const name = err instanceof Error ? err.name : typeof err;
  const message = err instanceof Error ? err.message : String(err);
  const json: Record<string, unknown> = { code, type: name, message, exitCode };
  let text: string;
  if (err instanceof TandemError) {
    text = err.message;
    // Its fields (step, blockers, location, details…), for tools reading --json.
    for (const [key, value] of Object.entries(err)) if (!(key in json) && key !== 'cause' && key !== 'name') json[key] = value;
  } else if (isPostgresError(err)) {
    text = `database error: ${oneLine(err.message)} (SQLSTATE ${err.code})`;
    if (err.detail) text += `\n  detail: ${oneLine(err.detail)}`;
    if (err.hint) text += `\n  hint: ${oneLine(err.hint)}`;
    json['sqlstate'] = err.code;
    for (const field of ['detail', 'hint', 'table', 'column', 'constraint'] as const) {
      if (err[field]) json[field] = err[field];
    }
  } else {
    text =
      `internal error: ${oneLine(err instanceof Error ? `${name}: ${message}` : message)}\n` +
      '  this is a bug in tandem, not in your migration. Please report it with the command you ran, ' +
      'your PostgreSQL version and the output of the same command run with TANDEM_DEBUG=1 (it adds the stack trace).';
  }
  const execHint = viewDependencyHint(err);
  if (execHint) {
    text += `\n  hint: ${execHint}`;
    json['execHint'] = execHint;
  }
  if (debug) text += `\n${stackOf(err)}`;
  return { text, json: { error: json }, exitCode };
}

/**
 * PostgreSQL's "cannot alter type of a column used by a view or rule" (0A000): with Tandem, the
 * view is usually a version schema's; `tandem exec` runs such DDL and rebuilds those views.
 */
function viewDependencyHint(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown; details?: { sqlstate?: unknown } } | null;
  const sqlstate = isPostgresError(err) ? err.code : e?.details?.sqlstate;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (sqlstate !== '0A000' || !/used by a view or rule/.test(message)) return undefined;
  return 'a version schema of tandem (or a view of yours) shows that column: run the ALTER with `tandem exec <file.sql>`, which drops the version views over the table, runs it and creates them again in one transaction (docs/ci-cd.md, "Plain DDL outside migrations")';
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** The stack of the error and of each cause, for TANDEM_DEBUG=1. */
function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(`${depth === 0 ? '' : 'caused by: '}${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}`);
  }
  return parts.join('\n');
}
