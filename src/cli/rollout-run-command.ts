/**
 * `tandem rollout run --steps 1,5,25,50,100 --interval 2m --gate … [--on-fail rollback]`: the
 * canary, step by step under health gates (src/rollout/run.ts; gates: src/rollout/gate-spec.ts).
 * Exit 0 when every step passed (the last step's percentage stays, `complete` is separate); exit
 * 1 when a gate failed (0% routed to the new version, rolled back with --on-fail rollback), the
 * failing gate named; exit 2 for a bad option or no migration in progress, nothing changed.
 */
import { type Command, Option } from 'commander';
import { InvalidInputError } from '../errors.js';
import { rolloutGroup } from './rollout-command.js';
import { engineOptions, globals, output, positiveInt, withClient } from './shared.js';

interface RunCliOptions {
  steps: string;
  interval: string;
  checkEvery?: string;
  window?: string;
  gate: string[];
  onFail: 'stop' | 'rollback';
  minStatements: number;
  drain: string;
  probeTimeout: string;
  verbose?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRolloutRunCommand(program: Command): void {
  rolloutGroup(program)
    .command('run')
    .description('widen the share of keys on the new version step by step, judging health gates before each step and throughout it; a failing gate routes 0% at once')
    .option('--steps <percentages>', 'increasing percentages of keys, the last one kept on success', '1,5,25,50,100')
    .option('--interval <duration>', 'how long each step holds (500ms, 30s, 2m)', '2m')
    .option('--check-every <duration>', 'how often the gates are judged during a step (default: the interval, at most 5s)')
    .option('--gate <gate>', 'error-rate<0.01, p99<200ms, p99<old*1.5, sql:<query>, http:<url>, prom:<url>|<promql> (repeatable)', collect, [])
    .addOption(new Option('--on-fail <action>', 'after routing 0% to the new version: stop, or also roll the migration back').choices(['stop', 'rollback']).default('stop'))
    .option('--window <duration>', 'health flushed within this window counts (default: the interval)')
    .addOption(new Option('--min-statements <n>', 'fewer statements of the new version in the window are not judged').argParser(positiveInt).default(5))
    .option('--drain <duration>', 'with --on-fail rollback: wait this long after routing back, for clients to follow', '2s')
    .option('--probe-timeout <duration>', 'timeout of each sql/http/prom gate', '5s')
    .option('--verbose', 'print every check, not only the steps')
    .action((cmd: RunCliOptions) => runCommand(cmd));
}

async function runCommand(cmd: RunCliOptions): Promise<void> {
  const { parseDurationMs } = await import('../rollout/duration.js');
  const { parseGate, parseSteps } = await import('../rollout/gate-spec.js');
  const intervalMs = parseDurationMs(cmd.interval, '--interval');
  const options = {
    schema: globals().schema,
    steps: parseSteps(cmd.steps),
    intervalMs,
    checkEveryMs: cmd.checkEvery !== undefined ? parseDurationMs(cmd.checkEvery, '--check-every') : Math.min(intervalMs, 5_000),
    windowMs: cmd.window !== undefined ? parseDurationMs(cmd.window, '--window') : intervalMs,
    minStatements: cmd.minStatements,
    gates: cmd.gate.map(parseGate),
    onFail: cmd.onFail,
    drainMs: parseDurationMs(cmd.drain, '--drain'),
    probeTimeoutMs: parseDurationMs(cmd.probeTimeout, '--probe-timeout'),
  };
  if (options.checkEveryMs > intervalMs) {
    throw new InvalidInputError('--check-every is longer than --interval', { field: '--check-every' }, 'judge the gates at least once per step', { code: 'usage' });
  }
  const json = globals().json === true;
  const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const { runRollout } = await import('../rollout/run.js');
  const { renderEvent, renderResult } = await import('../rollout/render.js');
  const result = await withClient(async (client) =>
    runRollout(client, {
      ...options,
      engine: await engineOptions(),
      onEvent: (e) => {
        const line = renderEvent(e, cmd.verbose === true);
        if (line !== undefined) say(line);
      },
    }),
  );
  output(renderResult(result, intervalMs), result);
  if (result.outcome !== 'passed') {
    process.stderr.write(`error: gate ${result.failure!.gate} failed: ${result.failure!.detail}\n`);
    process.exitCode = 1;
  }
}
