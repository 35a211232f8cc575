/** `npm run bench:estimate [-- --rows N] [--database-url URL] [--json]`: see run.ts. */
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { renderEstimateBench, runEstimateBench } from './run.js';

const args = process.argv.slice(2);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rows = Number(value('--rows') ?? 1_000_000);
if (!Number.isInteger(rows) || rows < 1) {
  console.error('bench:estimate: --rows expects a positive integer');
  process.exit(2);
}
const url = value('--database-url') ?? process.env['TANDEM_DATABASE_URL'];
const server = url ? undefined : await startEmbeddedPostgres();
try {
  const r = await runEstimateBench({ adminUrl: url ?? server!.url, rows, log: (m) => console.error(`bench:estimate: ${m}`) });
  console.log(args.includes('--json') ? JSON.stringify(r, null, 2) : renderEstimateBench(r));
} finally {
  await server?.stop();
}
