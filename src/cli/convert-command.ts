import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { ConvertResult } from '../convert/convert.js';
import type { HistoryResult } from '../convert/history.js';
import { InvalidInputError } from '../errors.js';

interface Globals {
  databaseUrl?: string;
  schema: string;
  json?: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function write(file: string, text: string): Promise<void> {
  await writeFile(file, text).catch((err: Error) => {
    throw new InvalidInputError(`cannot write the output: ${err.message}`, { file }, undefined, { cause: err });
  });
}

/** `_01`, `_02`… : the suffix of part `part` of `parts`. */
function partSuffix(part: number, parts: number): string {
  return `_${String(part).padStart(Math.max(2, String(parts).length), '0')}`;
}

/** `-o FILE` of a file that splits in parts: FILE's stem with `_01`, `_02`… beside it. */
function partPath(output: string, part: number, parts: number): string {
  if (parts === 1) return output;
  const ext = path.extname(output) || '.yaml';
  return `${output.slice(0, output.length - path.extname(output).length)}${partSuffix(part, parts)}${ext}`;
}

/**
 * Registers `tandem convert <file.sql|dir>`: SQL DDL → Tandem migrations (YAML, pgroll's format).
 * One file: YAML on stdout (or -o FILE; a file that must be split into several migrations gives
 * FILE_01.yaml, FILE_02.yaml…). A directory: its whole history, in order, into -o DIR. Warnings and
 * TODOs on stderr with file:line:col. Exit 0 when converted (TODOs included), 2 on bad input
 * (nothing is written then). Reads the live schema only with --database-url.
 */
export function registerConvertCommand(program: Command): void {
  program
    .command('convert <path>')
    .description('translate a SQL migration, or a directory of them (a whole history, in order), into Tandem migrations of safe operations')
    .option('-o, --output <path>', 'write the YAML to this file (a directory when converting a directory) instead of stdout')
    .option('--name <name>', 'the migration name to write into the file (default: the file name it is saved under)')
    .action(async (input: string, cmd: { output?: string; name?: string }) => {
      const g = program.opts<Globals>();
      // Loaded here, not at startup: every tandem command would otherwise pay for them.
      const { readCatalogModel } = await import('../convert/catalog.js');
      // Only an explicit --database-url: converting must not silently depend on the environment.
      const catalog = g.databaseUrl ? await readCatalogModel(g.databaseUrl, g.schema) : undefined;
      if ((await stat(input).catch(() => undefined))?.isDirectory()) {
        await convertDirectory(input, cmd, g, catalog);
        return;
      }
      const [{ convertSql }, { parseSqlFile }, { migrationYaml }] = await Promise.all([
        import('../convert/convert.js'),
        import('../convert/parse.js'),
        import('../convert/yaml.js'),
      ]);
      const parsed = await parseSqlFile(input);
      const result = convertSql(parsed, {
        schema: g.schema,
        ...(cmd.name !== undefined ? { name: cmd.name } : {}),
        ...(catalog ? { catalog } : {}),
      });
      const parts = result.parts;
      const label = (k: number) => (parts.length > 1 ? `part ${k + 1} of ${parts.length}` : undefined);
      const partName = (k: number) => (parts.length > 1 && result.migration.name !== undefined ? `${result.migration.name}${partSuffix(k + 1, parts.length)}` : undefined);
      const yamls = parts.map((p, k) => migrationYaml(result, input, p, label(k), partName(k)));
      const outputs = cmd.output !== undefined ? parts.map((_, k) => partPath(cmd.output!, k + 1, parts.length)) : [];
      for (const [k, file] of outputs.entries()) await write(file, yamls[k]!);
      if (g.json) {
        process.stdout.write(`${JSON.stringify(singleJson(input, result, outputs), null, 2)}\n`);
        return;
      }
      if (cmd.output === undefined) process.stdout.write(yamls.join('---\n'));
      printFindings(result);
      if (parts.length > 1) {
        process.stderr.write(
          `${input}: split into ${plural(parts.length, 'migration')} (a raw sql operation must be alone in its migration, and some changes to one table must wait for the previous migration)` +
            `${cmd.output === undefined ? '; save each YAML document as its own file (or use -o)' : ''}\n`,
        );
      }
      const ops = result.migration.operations.length;
      process.stderr.write(
        `${input}: ${plural(parsed.statements.length, 'statement')} -> ${plural(ops, 'operation')}` +
          `${outputs.length ? ` written to ${outputs.join(', ')}` : ''}; ${plural(result.todos.length, 'TODO')} to fill in, ${plural(result.warnings.length, 'warning')}\n`,
      );
    });
}

function singleJson(file: string, result: ConvertResult, outputs: string[]) {
  return {
    file,
    ...(outputs.length === 1 ? { output: outputs[0] } : outputs.length > 1 ? { outputs } : {}),
    // Every operation of the file in order (as before files were split); `migrations` are what to run.
    migration: result.migration,
    migrations: result.parts.map((p, k) => {
      const name =
        result.migration.name === undefined ? undefined : result.parts.length > 1 ? `${result.migration.name}${partSuffix(k + 1, result.parts.length)}` : result.migration.name;
      return { ...(name !== undefined ? { name } : {}), operations: p.operations };
    }),
    todos: result.todos.map(({ path: _, ...t }) => t),
    warnings: result.warnings,
    dropped: result.dropped,
  };
}

function printFindings(result: Pick<ConvertResult, 'warnings' | 'todos'>): void {
  for (const w of result.warnings) process.stderr.write(`${w.where}: warning: ${w.message}\n`);
  for (const t of result.todos) process.stderr.write(`${t.where}: warning: TODO in operations[${t.operationIndex}].${t.operation}.${t.field}: ${t.message}\n`);
}

async function convertDirectory(dir: string, cmd: { output?: string; name?: string }, g: Globals, catalog: ConvertResult['tables'] | undefined): Promise<void> {
  if (cmd.output === undefined) throw new InvalidInputError('converting a directory needs -o <dir>, where the migrations are written', { file: dir }, undefined, { code: 'usage' });
  if (cmd.name !== undefined) throw new InvalidInputError('--name names one migration: it has no meaning for a directory', { file: dir }, undefined, { code: 'usage' });
  const { convertHistory, listSqlHistory } = await import('../convert/history.js');
  const sources = await listSqlHistory(dir);
  if (sources.length === 0) throw new InvalidInputError('no SQL migration in the directory (*.sql, or */migration.sql)', { file: dir }, undefined, { code: 'invalid-file' });
  // Everything is converted before anything is written: bad input leaves the output untouched.
  const result = await convertHistory(sources, { schema: g.schema, ...(catalog ? { catalog } : {}) });
  await mkdir(cmd.output, { recursive: true }).catch((err: Error) => {
    throw new InvalidInputError(`cannot create the output directory: ${err.message}`, { file: cmd.output! }, undefined, { cause: err });
  });
  for (const f of result.files) await write(path.join(cmd.output, f.fileName), f.yaml);
  if (g.json) {
    process.stdout.write(`${JSON.stringify(directoryJson(dir, cmd.output, result), null, 2)}\n`);
    return;
  }
  printFindings({ warnings: result.warnings, todos: result.todos });
  for (const s of result.skipped) process.stderr.write(`${s.source}: skipped: ${s.reason}\n`);
  const split = new Set(result.files.filter((f) => f.parts > 1).map((f) => f.source)).size;
  process.stderr.write(
    `${dir}: ${plural(result.sources, 'SQL file')} (${plural(result.statements, 'statement')}) -> ${plural(result.files.length, 'migration')} in ${cmd.output}` +
      `${split ? ` (${plural(split, 'file')} split in parts)` : ''}; ${plural(result.todos.length, 'TODO')} to fill in, ${plural(result.warnings.length, 'warning')}\n`,
  );
}

function directoryJson(dir: string, output: string, r: HistoryResult) {
  return {
    directory: dir,
    output,
    files: r.files.map((f) => ({ source: f.source, file: path.join(output, f.fileName), name: f.name, operations: f.operations, part: f.part, parts: f.parts })),
    skipped: r.skipped,
    todos: r.todos.map(({ path: _, ...t }) => t),
    warnings: r.warnings,
    dropped: r.dropped,
  };
}
