/**
 * `tandem rollout set <percent>`, `tandem rollout status`, `tandem grant-client <role>`: the
 * operator's side of routing keys between the old and the new version (docs/client.md).
 * `rolloutGroup(program)` returns the `rollout` command, so that further subcommands (`rollout
 * run` with health gates) register from their own file.
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { InvalidInputError } from '../errors.js';
import type { RolloutStatus } from '../client/rollout-status.js';
import { globals, output, positiveInt, withClient } from './shared.js';

export function registerRolloutCommands(program: Command): void {
  const rollout = rolloutGroup(program);
  rollout
    .command('set <percent>')
    .description('route <percent> (0-100) of keys to the new version; from then on `complete` needs 100% (or --force)')
    .action((percent: string) => withClient((client) => setCommand(client, percent)));
  rollout
    .command('status')
    .description('the rollout: percentage, versions, and each version’s health side by side (statements, error rate, SQLSTATEs, p50/p99)')
    .option('--window <seconds>', 'health over the last <seconds>', positiveInt, 60)
    .action((cmd: { window: number }) => withClient((client) => statusCommand(client, Math.max(1, cmd.window))));
  program
    .command('grant-client <role>')
    .description('let an application role read the rollout state and write health (USAGE on schema tandem, SELECT on rollouts, INSERT on version_health)')
    .action((role: string) => withClient((client) => grantClientCommand(client, role)));
}

/** The `rollout` command group, created once. */
export function rolloutGroup(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'rollout');
  if (existing) return existing;
  return program.command('rollout').description('route a share of keys to the new version (sticky per key), and watch each version’s health; see docs/client.md');
}

/** 0 … 100 with at most two decimals (the routing resolution), else exit 2. */
export function parsePercent(text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+(\.\d{1,2})?$/.test(t) || !(n >= 0 && n <= 100)) {
    throw new InvalidInputError(`"${text}" is not a percentage`, { field: 'percent' }, 'give a number from 0 to 100 (at most two decimals), e.g. `tandem rollout set 25`');
  }
  return n;
}

async function setCommand(client: pg.Client, percentText: string): Promise<void> {
  const percent = parsePercent(percentText);
  const schema = globals().schema;
  const { setRollout } = await import('../state/rollout-store.js');
  const r = await setRollout(client, schema, percent);
  output(`migration ${r.migration}: ${r.percent}% of keys routed to ${r.newVersion} (was ${r.previousPercent}%), the rest to ${r.oldVersion}`, r);
}

async function statusCommand(client: pg.Client, windowSeconds: number): Promise<void> {
  const { rolloutStatus } = await import('../client/rollout-status.js');
  const { pgRunner } = await import('../client/sql-runner.js');
  const status = await rolloutStatus(pgRunner(client), globals().schema, windowSeconds);
  output(renderStatus(status), status);
}

/** Human text of the status: the routing, then one line per version. */
export function renderStatus(s: RolloutStatus): string {
  const lines: string[] = [];
  if (!s.inProgress) lines.push(`schema ${s.schema}: no migration in progress; every key gets ${s.newVersion}`);
  else {
    lines.push(`schema ${s.schema}: migration ${s.migration}: ${s.percent}% of keys routed to ${s.newVersion}, ${round(100 - s.percent)}% to ${s.oldVersion}`);
    lines.push(
      s.managed
        ? `  managed rollout (tandem rollout set)${s.updatedAt ? ` since ${s.updatedAt}` : ''}; complete ${s.completeAllowed ? 'is allowed' : 'needs 100% (or --force)'}`
        : '  not managed yet (no `tandem rollout set`): clients pinned to latest use the new version; complete is allowed',
    );
  }
  lines.push(`health over the last ${s.windowSeconds} s:`);
  const header = ['version', 'side', 'instances', 'statements', 'errors', 'error rate', 'p50 ms', 'p99 ms', 'max ms', 'errors by SQLSTATE'];
  const rows = s.health.map((h) => [
    h.version,
    h.side,
    String(h.instances),
    String(h.statements),
    String(h.errors),
    `${(h.errorRate * 100).toFixed(2)}%`,
    h.p50Ms.toFixed(2),
    h.p99Ms.toFixed(2),
    h.maxMs.toFixed(2),
    Object.entries(h.errorsBySqlstate)
      .map(([code, n]) => `${code}×${n}`)
      .join(' ') || '-',
  ]);
  lines.push(...table([header, ...rows]).map((l) => `  ${l}`));
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

const round = (n: number) => Math.round(n * 100) / 100;

async function grantClientCommand(client: pg.Client, role: string): Promise<void> {
  const { ident } = await import('../sql/ident.js');
  const exists = await client.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role]);
  if (exists.rowCount === 0)
    throw new InvalidInputError(`role "${role}" does not exist`, { field: 'role' }, 'give the role the application connects as', { code: 'invalid-input' });
  const store = await import('../state/store.js');
  if (!(await store.stateSchemaCurrent(client))) await store.initStateSchema(client);
  const grants = [
    `GRANT USAGE ON SCHEMA tandem TO ${ident(role)}`,
    `GRANT SELECT ON tandem.rollouts TO ${ident(role)}`,
    `GRANT INSERT ON tandem.version_health TO ${ident(role)}`,
    `GRANT EXECUTE ON FUNCTION tandem.use_version(text) TO ${ident(role)}`,
  ];
  const { withTransaction } = await import('../state/rollout-store.js');
  await withTransaction(client, async () => {
    for (const sql of grants) await client.query(sql);
  });
  output(`role ${role} may now read the rollout state and write health:\n${grants.map((g) => `  ${g};`).join('\n')}`, { role, grants });
}
