import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../errors.js';

interface Globals {
  databaseUrl?: string;
  schema: string;
  json?: boolean;
}

/**
 * Registers `tandem convert <file.sql>`: SQL DDL → a Tandem migration (YAML, pgroll's format).
 * YAML on stdout (or -o FILE), warnings and TODOs on stderr with file:line:col. Exit 0 when
 * converted (TODOs included), 2 on a parse error. Reads the live schema only with --database-url.
 */
export function registerConvertCommand(program: Command): void {
  program
    .command('convert <file>')
    .description('translate a SQL migration into a Tandem migration of safe operations (YAML; TODO markers where SQL must be written)')
    .option('-o, --output <file>', 'write the YAML to this file instead of stdout')
    .option('--name <name>', 'the migration name to write into the file (default: the file name it is saved under)')
    .action(async (file: string, cmd: { output?: string; name?: string }) => {
      const g = program.opts<Globals>();
      // Loaded here, not at startup: every tandem command would otherwise pay for them.
      const [{ readCatalogModel }, { convertSql }, { parseSqlFile }, { migrationYaml }] = await Promise.all([
        import('../convert/catalog.js'),
        import('../convert/convert.js'),
        import('../convert/parse.js'),
        import('../convert/yaml.js'),
      ]);
      const parsed = await parseSqlFile(file);
      // Only an explicit --database-url: converting must not silently depend on the environment.
      const catalog = g.databaseUrl ? await readCatalogModel(g.databaseUrl, g.schema) : undefined;
      const result = convertSql(parsed, {
        schema: g.schema,
        ...(cmd.name !== undefined ? { name: cmd.name } : {}),
        ...(catalog ? { catalog } : {}),
      });
      const yaml = migrationYaml(result, file);
      if (cmd.output !== undefined) {
        await writeFile(cmd.output, yaml).catch((err: Error) => {
          throw new InvalidInputError(`cannot write the output: ${err.message}`, { file: cmd.output! }, undefined, { cause: err });
        });
      }
      if (g.json) {
        process.stdout.write(
          `${JSON.stringify(
            {
              file,
              ...(cmd.output !== undefined ? { output: cmd.output } : {}),
              migration: result.migration,
              todos: result.todos.map(({ path: _, ...t }) => t),
              warnings: result.warnings,
              dropped: result.dropped,
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      if (cmd.output === undefined) process.stdout.write(yaml);
      for (const w of result.warnings) process.stderr.write(`${w.where}: warning: ${w.message}\n`);
      for (const t of result.todos) {
        process.stderr.write(`${t.where}: warning: TODO in operations[${t.operationIndex}].${t.operation}.${t.field}: ${t.message}\n`);
      }
      const ops = result.migration.operations.length;
      process.stderr.write(
        `${file}: ${parsed.statements.length} statement${parsed.statements.length === 1 ? '' : 's'} -> ${ops} operation${ops === 1 ? '' : 's'}` +
          `${cmd.output !== undefined ? ` written to ${cmd.output}` : ''}; ${result.todos.length} TODO${result.todos.length === 1 ? '' : 's'} to fill in, ` +
          `${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'}\n`,
      );
    });
}
