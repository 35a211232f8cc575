import type { Stage, StageColumn } from '../operations/context.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { MARKER_COLUMN } from './names.js';

export interface TriggerSpec {
  schema: string;
  table: string;
  functionName: string;
  triggerName: string;
  versionName: string;
  versionSchema: string;
  /** The table before the migration: the old version's columns. */
  original: StageColumn[];
  /** The table after each of the migration's operations on it. */
  stages: Stage[];
  marker: boolean;
}

interface Walk {
  code: string[];
  depth: number;
}

function open(w: Walk, declarations: string[]): void {
  const pad = '  '.repeat(w.depth);
  w.code.push(`${pad}DECLARE`, ...declarations.map((d) => `${pad}  ${d}`), `${pad}BEGIN`);
  w.depth++;
}

function closeAll(w: Walk, until: number): void {
  while (w.depth > until) {
    w.depth--;
    w.code.push(`${'  '.repeat(w.depth)}END;`);
  }
}

/**
 * One direction of the sync: walk the table's stages (one per operation), each a pair of nested
 * blocks. The first computes the next stage's values into temporaries (from the operation's
 * `up`/`down` expressions, evaluated over the current stage's column names, or the value carried
 * over); the second declares the next stage's column names from them. So each operation's
 * expressions see the table exactly as the operation before it left it, and chains compose.
 * The innermost block writes the physical columns that this direction's writer does not write
 * itself.
 */
function direction(w: Walk, from: StageColumn[], steps: { next: StageColumn[]; values: Map<number, string> }[], writesItself: Set<string>, tag: string): void {
  const base = w.depth;
  open(w, from.map((c) => `${ident(c.name)} ${c.type} := NEW.${ident(c.physical)};`));
  let current = from;
  const writes: string[] = [];
  steps.forEach((step, k) => {
    const known = new Set(current.map((c) => c.id));
    const temps = step.next.map((c, i) => {
      const temp = `_tandem_${tag}${k}_${i}`;
      const prior = current.find((p) => p.id === c.id);
      const value = step.values.get(c.id) ?? (known.has(c.id) && prior ? ident(prior.name) : `NEW.${ident(c.physical)}`);
      if (step.values.has(c.id) && !writesItself.has(c.physical)) writes.push(`NEW.${ident(c.physical)} := ${temp};`);
      return `${temp} ${c.type} := (${value});`;
    });
    open(w, temps);
    open(w, step.next.map((c, i) => `${ident(c.name)} ${c.type} := _tandem_${tag}${k}_${i};`));
    current = step.next;
  });
  const pad = '  '.repeat(w.depth);
  w.code.push(...(writes.length ? writes : ['NULL;']).map((line) => pad + line));
  closeAll(w, base);
}

function dollarTag(body: string): string {
  let tag = '$tandem$';
  for (let i = 0; body.includes(tag); i++) tag = `$tandem${i}$`;
  return tag;
}

/**
 * The sync trigger of one table. The writer is the new version when it says so with
 * `SET LOCAL tandem.version`, or, when that is not set, when the new version schema is on its
 * search_path; anything else (the old version, the backfill) is the old version.
 */
export function triggerFunctionSql(spec: TriggerSpec): string {
  const fn = qualified('tandem', spec.functionName);
  const final = spec.stages.length ? spec.stages[spec.stages.length - 1]!.columns : spec.original;
  const originalPhysicals = new Set(spec.original.map((c) => c.physical));
  const finalPhysicals = new Set(final.map((c) => c.physical));

  const newWriter: Walk = { code: [], depth: 2 };
  // Backwards through the stages: the new version's columns down to the old version's.
  const down = [...spec.stages.keys()].reverse().map((j) => ({
    next: j === 0 ? spec.original : spec.stages[j - 1]!.columns,
    values: new Map(spec.stages[j]!.down.map((v) => [v.id, v.expression])),
  }));
  direction(newWriter, final, down, finalPhysicals, 'd');

  const oldWriter: Walk = { code: [], depth: 2 };
  const up = spec.stages.map((s) => ({ next: s.columns, values: new Map(s.up.map((v) => [v.id, v.expression])) }));
  direction(oldWriter, spec.original, up, originalPhysicals, 'u');

  const body = `
DECLARE
  _tandem_writer_is_new boolean := coalesce(
    nullif(current_setting('tandem.version', true), '') IN (${literal(spec.versionName)}, ${literal(spec.versionSchema)}),
    ${literal(spec.versionSchema)} = ANY (current_schemas(false)));
BEGIN
  IF _tandem_writer_is_new THEN
${newWriter.code.join('\n')}
  ELSE
${oldWriter.code.join('\n')}
  END IF;
${spec.marker ? `  NEW.${ident(MARKER_COLUMN)} := true;\n` : ''}  RETURN NEW;
END`;
  const tag = dollarTag(body);
  return `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${tag}${body}\n${tag}`;
}

export function createTriggerSql(spec: Pick<TriggerSpec, 'schema' | 'table' | 'triggerName' | 'functionName'>): string {
  return (
    `CREATE TRIGGER ${ident(spec.triggerName)} BEFORE INSERT OR UPDATE ON ${qualified(spec.schema, spec.table)} ` +
    `FOR EACH ROW EXECUTE FUNCTION ${qualified('tandem', spec.functionName)}()`
  );
}

export function dropTriggerSql(spec: Pick<TriggerSpec, 'schema' | 'table' | 'triggerName' | 'functionName'>): string[] {
  return [
    `DROP TRIGGER IF EXISTS ${ident(spec.triggerName)} ON ${qualified(spec.schema, spec.table)}`,
    `DROP FUNCTION IF EXISTS ${qualified('tandem', spec.functionName)}()`,
  ];
}
