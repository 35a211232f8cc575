#!/usr/bin/env node
// The `tandem` command. An installed package has only dist/ (built on `npm pack`) and runs it with
// plain node. A checkout runs its TypeScript sources through tsx (a dev dependency), so that a
// dist/ left over from an earlier build or pack is never run instead of the code being edited; it
// falls back to dist/ when tsx is not installed there.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

const register = existsSync(source) ? await tsxRegister() : undefined;
if (register) {
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  process.stderr.write(
    existsSync(source)
      ? 'tandem: not built and tsx is not installed: run `npm ci` (for tsx) or `npm run build` (for dist/)\n'
      : `tandem: ${built} is missing: this package was packed without its build (\`npm pack\` runs it)\n`,
  );
  process.exit(1);
}
