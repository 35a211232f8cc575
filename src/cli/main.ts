#!/usr/bin/env node
import { CommanderError, Option } from 'commander';
import { resolveDatabaseUrl } from '../db/url.js';
import { reportError } from './format-error.js';
import { registerBackfillCommands } from './backfill-command.js';
import { registerConvertCommand } from './convert-command.js';
import { registerExecCommands } from './exec-command.js';
import { registerLintCommand } from './lint-command.js';
import { registerPipelineCommands } from './pipeline-command.js';
import { registerPlanCommand } from './plan-command.js';
import { registerRehearseCommand } from './rehearse-command.js';
import { registerRolloutCommands } from './rollout-command.js';
import { registerRolloutRunCommand } from './rollout-run-command.js';
import { registerTraceCommand } from './trace-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerVerifyCommand } from './verify-command.js';
import { commandResult, engine, engineOptions, globals, loadMigrationFile, output, positiveInt, program, withClient } from './shared.js';

program
  .command('init')
  .description('create the tandem state schema (idempotent)')
  .action(() =>
    withClient(async (client) => {
      await (await import('../state/store.js')).initStateSchema(client);
      output('tandem state schema is ready', { ok: true });
    }),
  );

program
  .command('validate <file>')
  .description('check a migration file; with a database, also against the live schema (changes nothing)')
  .action(async (file: string) => {
    const migration = await loadMigrationFile(file);
    const url = resolveDatabaseUrl({ databaseUrl: globals().databaseUrl });
    const warnings: string[] = [];
    if (url) {
      const opts = await engineOptions(globals());
      const reporter = opts.reporter;
      const collecting = { ...opts, reporter: { ...reporter, warn: (w: string) => (warnings.push(w), reporter.warn(w)) } };
      await withClient(async (client) => (await engine()).plan(client, migration, collecting));
    }
    output(`${file}: valid (${migration.operations.length} operations${url ? ', checked against the database' : ''})`, {
      file,
      name: migration.name,
      valid: true,
      checkedAgainstDatabase: Boolean(url),
      warnings,
    });
  });

registerPlanCommand(program);
registerRehearseCommand(program);

program
  .command('start <file>')
  .description('expand: add what the new version needs, create its version schema, backfill')
  .option('--complete', 'complete the migration right after start')
  .addOption(
    new Option(
      '--workers <n>',
      'backfill workers, each on its own connection, over slices of the key (default 1; 2 or more where the server has cores to spare; `tandem backfill run` joins from elsewhere)',
    ).argParser(positiveInt),
  )
  .addOption(new Option('--vacuum-behind <percent>', 'backfill: VACUUM the table every this many % of its rows (0 = never; default 10)').argParser(positiveInt))
  .action(async (file: string, cmd: { complete?: boolean; workers?: number; vacuumBehind?: number }) => {
    const migration = await loadMigrationFile(file);
    const backfill = {
      ...(cmd.workers !== undefined ? { workers: Math.max(1, cmd.workers) } : {}),
      ...(cmd.vacuumBehind !== undefined ? { vacuumBehindPercent: cmd.vacuumBehind } : {}),
    };
    const result = await withClient(async (client) =>
      (await engine()).start(client, migration, { ...(await engineOptions(globals())), ...backfill, complete: cmd.complete === true }),
    );
    const msg = result.alreadyActive
      ? `migration ${result.migration} is already started; version schema ${result.versionSchema}`
      : `migration ${result.migration} ${result.completed ? 'started and completed' : 'started'}; new version schema: ${result.versionSchema}\n` +
        (result.completed
          ? ''
          : `  point the new version at it: SET search_path TO ${result.versionSchema}  (or SELECT tandem.use_version('${result.versionSchema}') per transaction)`);
    output(msg, result);
  });

program
  .command('complete')
  .description('contract: remove the old version and its columns (refused, exit 2, while a managed rollout routes < 100% of keys to the new version)')
  .option('--force', 'complete even while `tandem rollout set` routes less than 100% of keys to the new version')
  .option('--no-verify', 'skip `tandem verify` (every backfilled row checked against `up`) before contracting')
  .action((cmd: { force?: boolean; verify: boolean }) =>
    withClient(async (client) => {
      const r = await (await engine()).complete(client, { ...(await engineOptions(globals())), force: cmd.force === true, verify: cmd.verify });
      output(`migration ${r.migration} ${r.alreadyDone ? 'was already completed' : 'completed'}; latest version schema: ${r.versionSchema}`, r);
    }),
  );

program
  .command('rollback')
  .description('undo the migration in progress; the schema returns to exactly where it was')
  .action(() =>
    withClient(async (client) => {
      const r = await (await engine()).rollback(client, await engineOptions(globals()));
      output(`migration ${r.migration} ${r.alreadyDone ? 'was already rolled back' : 'rolled back'}`, r);
    }),
  );

program
  .command('status')
  .description('the migration in progress, its phase and backfill progress, and the history')
  .action(() =>
    withClient(async (client) => {
      const s = await (await import('../engine/status.js')).status(client, globals().schema);
      const lines: string[] = [];
      if (!s.initialized) lines.push(`schema ${s.schema}: tandem is not initialised here (run \`tandem init\`)`);
      else if (!s.inProgress) lines.push(`schema ${s.schema}: no migration in progress; latest version schema: ${s.latestVersionSchema ?? '(none)'}`);
      else {
        const a = s.inProgress;
        lines.push(`schema ${s.schema}: migration ${a.name} is ${a.phase} (${a.steps.phase}: ${a.steps.done}/${a.steps.total} steps)`);
        lines.push(`  new version schema: ${a.versionSchema}; old: ${a.previousVersionSchema ?? `${s.schema} (tables)`}`);
        lines.push(...(await import('../exec/throttle-format.js')).statusBackfillLines(a.backfill, a.backfillProgress));
        if (a.lastError) lines.push(`  last error: ${JSON.stringify(a.lastError)}`);
        lines.push(
          `  next: ${a.next.map((c) => `tandem ${c}${c === 'start' ? ' <the same file>' : ''}`).join(', or ')}${a.phase === 'completing' && !a.next.includes('rollback') ? ' (complete is past its point of no return: rollback is no longer possible)' : ''}`,
        );
      }
      if (s.history.length) {
        lines.push('history:');
        for (const h of s.history) lines.push(`  ${h.name}  ${h.phase}  ${h.completedAt ?? h.rolledBackAt ?? h.startedAt ?? ''}`);
      }
      output(lines.join('\n'), s);
    }),
  );

program
  .command('schema')
  .description('print the JSON Schema of migration files (for editors)')
  .action(async () => {
    const { migrationJsonSchema } = await import('../migration/schema.js');
    process.stdout.write(`${JSON.stringify(migrationJsonSchema(), null, 2)}\n`);
  });

program
  .command('demo')
  .description('start an embedded PostgreSQL and run a migration under live traffic from both versions')
  .addOption(new Option('--rows <n>', 'rows in the demo table').argParser(positiveInt).default(1_000_000))
  .addOption(new Option('--clients <n>', 'application clients per version').argParser(positiveInt).default(4))
  .option('--canary', 'the rollout instead: keyed traffic, 1% → 100% under an error-rate gate, then a gate that fails and the way back (100,000 rows unless --rows)')
  .action(async (cmd: { rows: number; clients: number; canary?: boolean }, command: { getOptionValueSource(key: string): string | undefined }) => {
    if (cmd.canary) return (await import('../demo/canary-demo.js')).canaryDemoCommand(cmd, command.getOptionValueSource('rows') === 'default', globals());
    const { runDemo } = await import('../demo/run-demo.js');
    const summary = await runDemo({ rows: cmd.rows, clientsPerVersion: cmd.clients, databaseUrl: globals().databaseUrl, json: globals().json === true });
    if (globals().json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (summary.failedStatements > 0 || summary.lostWrites > 0) process.exitCode = 1;
  });

registerLintCommand(program);
registerTraceCommand(program);
registerServeCommand(program);
registerConvertCommand(program);
registerPipelineCommands(program);
registerExecCommands(program);
registerBackfillCommands(program);
registerVerifyCommand(program);
registerRolloutCommands(program);
registerRolloutRunCommand(program);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
    await endObservers({ result: commandResult() });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const report = printError(err);
    await endObservers({ error: { code: String(report.json.error['code']), exitCode: report.exitCode, message: report.text } });
  }
}

/** The command-done / command-failed event, then the observers stop (hooks flushed), when any was started. */
async function endObservers(outcome: Parameters<typeof import('./observability.js').endObservability>[0]): Promise<void> {
  const g = globals();
  if (g.logFormat !== 'json' && !g.onEvent && !g.webhook && g.metricsPort === undefined) return;
  await (await import('./observability.js')).endObservability(outcome);
}

/** One message, never a stack trace (TANDEM_DEBUG=1 adds it); with --json, a document with the error's code. */
function printError(err: unknown): ReturnType<typeof reportError> {
  const report = reportError(err);
  if (globals().json) process.stdout.write(`${JSON.stringify(report.json, null, 2)}\n`);
  process.stderr.write(`error: ${report.text}\n`);
  process.exitCode = report.exitCode;
  return report;
}

// A failure outside the command's own promise (a library's stray rejection) is reported the same way.
for (const event of ['unhandledRejection', 'uncaughtException'] as const) {
  process.on(event, (err: unknown) => {
    printError(err);
    process.stdout.write('', () => process.exit(process.exitCode ?? 1));
  });
}

await main();
// Exit with the command's code once stdout is flushed, whatever a library left pending.
process.stdout.write('', () => process.exit(process.exitCode ?? 0));
