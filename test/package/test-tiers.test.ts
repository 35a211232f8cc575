// @tier fast (overrides test/package's slow: it only reads files)
/**
 * The test tiers of scripts/run-tests.ts: each file is where its directory (or its `// @tier`
 * line) puts it, and a file of the fast tier, which runs with no server, imports no database helper.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..');

function tiers(): Map<string, string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'run-tests.ts'), '--list'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [tier, file] = l.split(/\s+/);
        return [file!, tier!];
      }),
  );
}

test('each test file is in the tier of its directory, unless it says otherwise', () => {
  const byFile = tiers();
  assert.ok(byFile.size > 10, `only ${byFile.size} files listed`);
  const expected: Record<string, string> = { unit: 'fast', concurrency: 'slow', sturdiness: 'slow', fuzz: 'slow', bench: 'slow', package: 'slow', lifecycle: 'db', examples: 'db' };
  for (const [file, tier] of byFile) {
    const marker = /^\s*\/\/\s*@tier\s+(fast|db|slow)\b/m.exec(readFileSync(path.join(root, file), 'utf8').slice(0, 4000))?.[1];
    const dir = file.split('/')[1]!;
    assert.equal(tier, marker ?? expected[dir] ?? 'db', `${file}: tier ${tier}`);
  }
  assert.equal(byFile.get('test/package/tarball.test.ts'), 'slow');
  assert.equal(byFile.get('test/package/test-tiers.test.ts'), 'fast');
});

test('no file of the fast tier imports a database helper', () => {
  const dbHelpers = /^import\b[^;]*\bfrom '(?:[./]+(?:helpers\/db|(?:lifecycle\/|concurrency\/|sturdiness\/)?support)\.js|pg)';/m;
  for (const [file, tier] of tiers()) {
    if (tier !== 'fast') continue;
    const text = readFileSync(path.join(root, file), 'utf8');
    assert.ok(!dbHelpers.test(text), `${file} is in the fast tier (no server) but imports a database helper: move it, or mark it // @tier db`);
  }
});

test('--tier picks tiers and refuses unknown ones', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'run-tests.ts'), ...args], { cwd: root, encoding: 'utf8' });
  const fast = run('--list', '--tier', 'fast');
  assert.equal(fast.status, 0, fast.stderr);
  assert.ok(
    fast.stdout
      .trim()
      .split('\n')
      .every((l) => l.startsWith('fast ')),
  );
  const bad = run('--list', '--tier', 'quick');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown tier "quick"/);
});
