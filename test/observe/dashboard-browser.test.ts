// @tier slow — a real Chromium (Debian's /usr/bin/chromium) driven by playwright-core; run once in CI
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { killSpawned, spawnCli, waitFor, writeMigrationFile, type CliRun } from '../concurrency/support.js';
import { freePort } from './support.js';

const CHROMIUM = process.env['TANDEM_CHROMIUM'] ?? '/usr/bin/chromium';
const TOKEN = 'dashboard-browser-token-42';
export const SCREENSHOT = path.join(projectRoot, 'test-artifacts', 'dashboard.png');

describe(
  'the dashboard in a real browser during a real migration',
  { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)` },
  () => {
    let db: TestDatabase;
    let browser: Browser;
    let page: Page;
    let serve: CliRun;
    let url: string;

    before(async () => {
      db = await createTestDatabase();
      await db.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL)`);
      await db.query(`INSERT INTO accounts SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 60000) g`);
      await db.query(`CREATE TABLE audit_trail (id int PRIMARY KEY)`);
      await db.query('ANALYZE');
      const port = await freePort();
      url = `http://127.0.0.1:${port}/?token=${TOKEN}`;
      serve = spawnCli(['serve', '--port', String(port), '--token', TOKEN], db.url);
      await waitFor('tandem serve to listen', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok, 30_000);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    });
    after(async () => {
      await browser?.close();
      killSpawned();
      await serve?.done;
      await db?.drop();
    });

    test('phase, advancing backfill, a live lock wait, then the history with each step’s SQL', async () => {
      const file = writeMigrationFile('d1_email', {
        operations: [{ alter_column: { table: 'accounts', column: 'email', type: 'varchar(200)', up: 'lower(email)', down: 'email' } }],
      });
      const start = spawnCli(['start', file, '--batch-size', '200', '--batch-delay', '30'], db.url);
      await waitFor('the backfill to begin', async () => (await db.query(`SELECT 1 FROM tandem.backfill_checkpoints WHERE rows_done > 0`).catch(() => ({ rowCount: 0 }))).rowCount);

      await page.goto(url);
      // The paint entry is recorded asynchronously, possibly after the load event goto waits for.
      await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, null, { timeout: 5_000 }).catch(() => undefined);
      const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
      console.log(`dashboard first contentful paint: ${paint === null ? 'n/a' : `${paint.toFixed(0)} ms`}`);
      assert.ok(paint !== null && paint < 3000, `first paint ${paint} ms`);

      // The phase, and a progress value that advances.
      await page.locator('#phase[data-phase="starting"]').waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#migration-name').textContent(), 'd1_email');
      const progress = page.locator('progress.backfill-progress').first();
      await progress.waitFor();
      const first = Number(await progress.getAttribute('value'));
      await page.waitForFunction((v) => Number(document.querySelector('progress.backfill-progress')?.getAttribute('value')) > v, first, { timeout: 10_000 });
      const later = Number(await progress.getAttribute('value'));
      assert.ok(later > first, `progress advanced from ${first} to ${later}`);

      // A lock wait on another table while a test session holds it: the waiting pid and its blocker.
      const holder = new pg.Client({ connectionString: db.url, application_name: 'test-holder' });
      const waiter = new pg.Client({ connectionString: db.url, application_name: 'test-waiter' });
      await holder.connect();
      await waiter.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE audit_trail IN ACCESS SHARE MODE');
        const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const waiterPid = (await waiter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await waiter.query('BEGIN');
        const waiting = waiter.query('LOCK TABLE audit_trail IN ACCESS EXCLUSIVE MODE').catch((e: Error) => e);
        const row = page.locator(`tr.lock-wait[data-pid="${waiterPid}"]`);
        await row.waitFor({ timeout: 5_000 });
        const text = (await row.textContent()) ?? '';
        assert.match(text, /AccessExclusiveLock on audit_trail/);
        assert.match(text, new RegExp(`${holderPid} \\(test-holder\\)`));
        await page.screenshot({ path: SCREENSHOT_DURING(), fullPage: true });
        await holder.query('ROLLBACK');
        await waiting;
        await waiter.query('ROLLBACK').catch(() => undefined);
        await row.waitFor({ state: 'detached', timeout: 5_000 });
      } finally {
        await holder.end();
        await waiter.end();
      }

      const started = await start.done;
      assert.equal(started.code, 0, started.stderr);
      await page.locator('#phase[data-phase="active"]').waitFor({ timeout: 5_000 });

      // Complete, then the history: the page shows it within 2 s of the server recording it.
      const completed = await spawnCli(['complete'], db.url).done;
      assert.equal(completed.code, 0, completed.stderr);
      const recordedAt = (await db.query<{ t: Date }>(`SELECT completed_at AS t FROM tandem.migrations WHERE name = 'd1_email'`)).rows[0]!.t.getTime();
      const entry = page.locator('details.history-entry[data-name="d1_email"][data-phase="completed"]');
      await entry.waitFor({ timeout: 5_000 });
      const shownAfter = Date.now() - recordedAt;
      console.log(`dashboard showed the completed migration ${shownAfter} ms after the server recorded it`);
      assert.ok(shownAfter < 4_000, `${shownAfter} ms`);
      await entry.locator('summary').click();
      const sqlRow = entry.locator('tr.audit-entry', { hasText: 'ALTER TABLE' }).first();
      await sqlRow.waitFor({ timeout: 5_000 });
      assert.match((await sqlRow.textContent()) ?? '', /ok/);
      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`dashboard screenshot: ${SCREENSHOT}`);
    });
  },
);

function SCREENSHOT_DURING(): string {
  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  return SCREENSHOT.replace(/\.png$/, '-during.png');
}
