import YAML from 'yaml';
import type { ConvertResult, MigrationPart } from './convert.js';

/**
 * The converted migration as YAML, with comments: a header that lists what a human must fill
 * in, a comment on each TODO field, and the reason above each raw `sql` operation. With `part`,
 * only that part of the file's operations (one migration of a split file), numbered from 0, under
 * `partName` when given (the parts of a named migration need names of their own).
 */
export function migrationYaml(result: ConvertResult, sourceFile: string, part?: MigrationPart, partLabel?: string, partName?: string): string {
  const first = part?.first ?? 0;
  const count = part?.operations.length ?? result.migration.operations.length;
  const local = (i: number) => (i >= first && i < first + count ? i - first : undefined);
  const name = partName ?? result.migration.name;
  const migration = part ? { ...(name !== undefined ? { name } : {}), operations: part.operations } : result.migration;
  const doc = new YAML.Document(migration);
  const todos = result.todos.filter((t) => local(t.operationIndex) !== undefined);
  const header = [` Converted by \`tandem convert\` from ${sourceFile}${partLabel ? ` (${partLabel})` : ''}.`];
  if (todos.length) {
    header.push(` ${todos.length} TODO${todos.length === 1 ? '' : 's'} to fill in before running it (search for TODO):`);
    for (const t of todos) header.push(`   operations[${local(t.operationIndex)!}].${t.operation}.${t.field}  (${t.where})`);
  }
  const raws = result.warnings.filter((w) => w.operationIndex !== undefined && local(w.operationIndex) !== undefined && 'sql' in result.migration.operations[w.operationIndex]!);
  if (raws.length) header.push(` ${raws.length} statement${raws.length === 1 ? '' : 's'} kept as raw \`sql\`: Tandem runs them as written.`);
  doc.commentBefore = header.join('\n');
  for (const t of todos) {
    const node = doc.getIn(['operations', local(t.operationIndex)!, ...t.path.slice(2)], true) as YAML.Node | undefined;
    if (node) node.comment = ` ${t.message}`;
  }
  const notes = new Map<number, string[]>();
  for (const w of result.warnings) {
    const i = w.operationIndex === undefined ? undefined : local(w.operationIndex);
    if (i === undefined) continue;
    notes.set(i, [...(notes.get(i) ?? []), `${w.where}: ${w.message}`]);
  }
  for (const [i, lines] of notes) {
    const node = doc.getIn(['operations', i], true) as YAML.Node | undefined;
    if (node) node.commentBefore = lines.map((l) => ` ${l}`).join('\n');
  }
  return doc.toString({ lineWidth: 0 });
}
