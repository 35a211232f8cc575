import YAML from 'yaml';
import type { ConvertResult } from './convert.js';

/**
 * The converted migration as YAML, with comments: a header that lists what a human must fill
 * in, a comment on each TODO field, and the reason above each raw `sql` operation.
 */
export function migrationYaml(result: ConvertResult, sourceFile: string): string {
  const doc = new YAML.Document(result.migration);
  const header = [` Converted by \`tandem convert\` from ${sourceFile}.`];
  if (result.todos.length) {
    header.push(` ${result.todos.length} TODO${result.todos.length === 1 ? '' : 's'} to fill in before running it (search for TODO):`);
    for (const t of result.todos) header.push(`   operations[${t.operationIndex}].${t.operation}.${t.field}  (${t.where})`);
  }
  const raws = result.warnings.filter((w) => w.operationIndex !== undefined && 'sql' in result.migration.operations[w.operationIndex]!);
  if (raws.length) header.push(` ${raws.length} statement${raws.length === 1 ? '' : 's'} kept as raw \`sql\`: Tandem runs them as written.`);
  doc.commentBefore = header.join('\n');
  for (const t of result.todos) {
    const node = doc.getIn(t.path, true) as YAML.Node | undefined;
    if (node) node.comment = ` ${t.message}`;
  }
  const notes = new Map<number, string[]>();
  for (const w of result.warnings) {
    if (w.operationIndex === undefined) continue;
    notes.set(w.operationIndex, [...(notes.get(w.operationIndex) ?? []), `${w.where}: ${w.message}`]);
  }
  for (const [i, lines] of notes) {
    const node = doc.getIn(['operations', i], true) as YAML.Node | undefined;
    if (node) node.commentBefore = lines.map((l) => ` ${l}`).join('\n');
  }
  return doc.toString({ lineWidth: 0 });
}
