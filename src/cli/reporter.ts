import cliProgress from 'cli-progress';
import type { Reporter } from '../exec/options.js';
import { RateMeter } from '../exec/throttle-rate.js';

/** Progress on stderr: a bar on a TTY, plain lines otherwise (stdout stays for results and --json). */
export function consoleReporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  const tty = Boolean(stream.isTTY) && !process.env['CI'];
  let bar: cliProgress.SingleBar | undefined;
  let lastPrinted = -1;
  // The measured rate of the backfill (rows done over the last seconds), for its rate and ETA.
  const meter = new RateMeter();
  const line = (s: string) => {
    if (bar) bar.stop();
    bar = undefined;
    stream.write(`${s}\n`);
  };
  return {
    step: (phase, description) => line(`[${phase}] ${description}`),
    info: (m) => line(m),
    warn: (m) => line(`warning: ${m}`),
    backfillProgress(table, done, estimated, finished) {
      const total = Math.max(estimated, done, 1);
      meter.add(done);
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { stream, format: `  backfill ${table} [{bar}] {percentage}% | {value}/{total} rows{rate}`, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, done, { rate: '' });
        }
        bar.setTotal(total);
        bar.update(done, { rate: meter.describe(done, total) });
        if (finished) {
          bar.stop();
          bar = undefined;
        }
        return;
      }
      const decile = Math.floor((done / total) * 10);
      if (finished) stream.write(`  backfill ${table}: ${done} rows done\n`);
      else if (decile !== lastPrinted) {
        lastPrinted = decile;
        stream.write(`  backfill ${table}: ${done}/${total} rows (~${decile * 10}%)${meter.describe(done, total).replace(/ \| /g, ', ')}\n`);
      }
    },
  };
}
