// For the lint benchmark only: a `tandem` program with nothing but `lint` registered, from the
// compiled build. It shows what `tandem lint` costs once src/cli/main.ts loads commands lazily
// (today every command's modules load before any command runs). Not a product entry point.
import { Command } from 'commander';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const build = process.env.TANDEM_BENCH_BUILD;
if (!build) throw new Error('TANDEM_BENCH_BUILD is not set');
const { registerLintCommand } = await import(pathToFileURL(path.join(build, 'cli', 'lint-command.js')).href);
const program = new Command('tandem').option('--database-url <url>').option('--schema <name>', 'target schema', 'public').option('--json');
registerLintCommand(program);
await program.parseAsync(process.argv);
