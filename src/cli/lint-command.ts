import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';

// libpg-query's WebAssembly parser: for a CLI run (seconds), V8's baseline tier alone parses a
// few hundred files ~3× faster than with tier-up, whose optimizing compiles compete for the CPU.
// The flag must be set before the module is compiled; libpg-query starts compiling when it is
// first imported (possibly by another command's module at startup), asynchronously — after the
// synchronous evaluation of the CLI's modules, this one included. It only concerns WebAssembly.
try {
  v8.setFlagsFromString('--liftoff-only');
} catch {
  /* another engine: keep its defaults */
}

/** `--pg-version 15`, `15.4`, `9.6` → the major version (9 for 9.x). */
export function parsePgVersion(value: string): number {
  const m = /^(\d+)(?:\.\d+)*$/.exec(value.trim());
  const major = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(major) || major < 9 || major > 99) throw new InvalidArgumentError('expected a PostgreSQL major version such as 14');
  return major;
}

function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

interface LintCommandOptions {
  format?: 'human' | 'json' | 'sarif' | 'github';
  pgVersion?: number;
  config?: string;
  assumeInTransaction?: boolean;
  listRules?: boolean;
}

/** Registers `tandem lint <files|dirs|globs>`. */
export function registerLintCommand(program: Command): void {
  program
    .command('lint')
    .description('check SQL migrations for statements that lock or rewrite tables or break the running version, and say the safe way')
    .argument('[paths...]', 'SQL files, directories (every .sql below) or quoted globs; - reads standard input')
    .addOption(new Option('--format <format>', 'output format (default human; json with --json)').choices(['human', 'json', 'sarif', 'github']))
    .addOption(new Option('--pg-version <major>', "PostgreSQL version the migrations run on (default 14, or the server's with --database-url)").argParser(parsePgVersion))
    .option('--config <file>', 'lint config (default: .tandemlint.json or tandem-lint.yaml in the current directory)')
    .option('--assume-in-transaction', 'each file runs inside one transaction (as many migration tools do)')
    .option('--list-rules', 'print every rule with its default severity and exit')
    .addHelpText(
      'after',
      '\nWith --database-url, lint reads the live catalog (read-only): column types, table sizes, validated checks.\n' +
        'Exit codes: 0 clean or warnings only, 1 error-level findings, 2 a file does not parse or bad usage.',
    )
    .action(async (paths: string[], cmd: LintCommandOptions) => {
      const globals = program.opts<{ json?: boolean; databaseUrl?: string; schema?: string }>();
      const format = cmd.format ?? (globals.json ? 'json' : 'human');
      const lint = await import('../lint/index.js');
      if (cmd.listRules) {
        process.stdout.write(`${lint.listRules(format === 'json' ? 'json' : 'human')}\n`);
        return;
      }
      const out = lint.streamingRenderer(format, (s) => process.stdout.write(s), { toolVersion: toolVersion() });
      const report = await lint.runLint({
        inputs: paths,
        ...(cmd.pgVersion !== undefined ? { pgVersion: cmd.pgVersion } : {}),
        ...(cmd.assumeInTransaction ? { assumeInTransaction: true } : {}),
        ...(cmd.config !== undefined ? { configFile: cmd.config } : {}),
        ...(globals.databaseUrl ? { databaseUrl: globals.databaseUrl } : {}),
        defaultSchema: globals.schema ?? 'public',
        onFile: out.onFile,
      });
      out.finish(report);
      process.exitCode = lint.exitCodeFor(report);
    });
}
