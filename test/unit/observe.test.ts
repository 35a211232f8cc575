import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emitEvent, onEvent, type StampedEvent } from '../../src/observe/events.js';
import { hookPayload } from '../../src/observe/hooks.js';
import { etaSeconds, RateTracker } from '../../src/observe/rate.js';
import { redactDeep, redactSecrets } from '../../src/observe/redact.js';
import { carriesToken } from '../../src/serve/auth.js';

describe('observability pieces without a database', () => {
  test('rate over a sliding window, reset when the counter goes down, and the ETA from it', () => {
    const r = new RateTracker(10_000);
    assert.equal(r.observe('t', 0, 0), undefined);
    assert.equal(r.observe('t', 1000, 1000), 1000);
    assert.equal(r.observe('t', 3000, 2000), 1500);
    // Old samples leave the window: the rate follows the recent pace.
    r.observe('t', 3000 + 100 * 10, 12_000);
    assert.equal(r.observe('t', 4000 + 100 * 12, 14_000), (5200 - 3000) / 12);
    assert.equal(r.observe('t', 10, 15_000), undefined, 'a counter that went down starts again');
    assert.equal(etaSeconds(500, 1500, 100), 10);
    assert.equal(etaSeconds(1500, 1500, undefined), 0);
    assert.equal(etaSeconds(10, 1500, 0), undefined);
  });

  test('URLs lose password and query string; secret-named fields are masked', () => {
    assert.equal(redactSecrets('cannot reach postgres://app:hunter2@db.internal:5432/prod?sslmode=require now'), 'cannot reach postgres://app@db.internal:5432/prod now');
    assert.equal(redactSecrets('POST https://hooks.example.com/services/T0/B0?token=abc failed'), 'POST https://hooks.example.com/services/T0/B0 failed');
    assert.deepEqual(redactDeep({ a: ['postgresql://u:p@h/d'], token: 'x', nested: { password: 'y', n: 1 } }), {
      a: ['postgresql://u@h/d'],
      token: '[redacted]',
      nested: { password: '[redacted]', n: 1 },
    });
  });

  test('events reach listeners with a time; a throwing listener does not reach the emitter', () => {
    const seen: StampedEvent[] = [];
    const stopBad = onEvent(() => {
      throw new Error('boom');
    });
    const stop = onEvent((e) => seen.push(e));
    emitEvent({ type: 'phase-change', migrationId: '7', migration: 'm', schema: 'public', phase: 'active' });
    stop();
    stopBad();
    emitEvent({ type: 'phase-change', migrationId: '7', migration: 'm', schema: 'public', phase: 'completed' });
    assert.equal(seen.length, 1);
    assert.match(seen[0]!.time, /^\d{4}-\d\d-\d\dT/);
    const payload = hookPayload(seen[0]!, 'start');
    assert.deepEqual(
      { ...payload, time: 'T' },
      { event: 'phase-change', time: 'T', tandem: { command: 'start' }, migrationId: '7', migration: 'm', schema: 'public', phase: 'active' },
    );
  });

  test('the serve token: Bearer header or ?token=, nothing else', () => {
    const token = 'a-token-of-some-length';
    assert.ok(carriesToken(token, `Bearer ${token}`, undefined));
    assert.ok(carriesToken(token, undefined, token));
    assert.ok(!carriesToken(token, undefined, undefined));
    assert.ok(!carriesToken(token, `Basic ${token}`, undefined));
    assert.ok(!carriesToken(token, 'Bearer a-token-of-some-lengthX', undefined));
    assert.ok(!carriesToken(token, undefined, 'short'));
  });
});
