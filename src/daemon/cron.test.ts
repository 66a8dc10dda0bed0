import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cronMatches, inWindow, nextCron, parseCron, renewalSlot } from './cron.js';

const at = (s: string) => new Date(s);

test('parse and match', () => {
  const c = parseCron('*/15 2-4 * * 1-5');
  assert.ok(cronMatches(c, at('2026-12-01T02:30:00Z'))); // Tuesday
  assert.not.ok(cronMatches(c, at('2026-12-01T02:31:00Z')));
  assert.not.ok(cronMatches(c, at('2026-12-06T02:30:00Z'))); // Sunday
  assert.ok(cronMatches(parseCron('0 0 * * 7'), at('2026-12-06T00:00:00Z')), '7 is Sunday');
  assert.ok(cronMatches(parseCron('0 0 1 * 0'), at('2026-12-06T00:00:00Z')), 'both day fields restricted: either matches');
  for (const bad of ['* * * *', '60 * * * *', 'x * * * *', '5-1 * * * *']) assert.throws(() => parseCron(bad), bad);
});

test('next run', () => {
  const c = parseCron('30 3 * * *');
  assert.equal(nextCron(c, at('2026-11-30T20:00:00Z')), at('2026-12-01T03:30:00Z'));
  assert.equal(nextCron(c, at('2026-12-01T03:30:00Z')), at('2026-12-02T03:30:00Z'), 'strictly after');
  assert.equal(nextCron(parseCron('*/10 * * * *'), at('2026-11-30T20:01:59Z')), at('2026-11-30T20:10:00Z'));
  assert.equal(nextCron(parseCron('0 0 29 2 *'), at('2026-03-01T00:00:00Z'), 366 * 3), at('2028-02-29T00:00:00Z'));
});

test('windows and the renewal slot', () => {
  const w = { cron: parseCron('0 2 * * *'), durationMs: 2 * 3600_000 };
  assert.ok(inWindow(w, at('2026-12-01T02:00:00Z')));
  assert.ok(inWindow(w, at('2026-12-01T03:59:00Z')));
  assert.not.ok(inWindow(w, at('2026-12-01T04:00:00Z')));
  assert.not.ok(inWindow(w, at('2026-12-01T01:59:00Z')));
  const now = at('2026-12-01T12:00:00Z');
  assert.equal(renewalSlot({ windows: [w], now, notAfter: at('2026-12-10T00:00:00Z'), marginMs: 3600_000 }), at('2026-12-02T02:00:00Z'), 'deferred to the next window');
  assert.equal(renewalSlot({ windows: [w], now, notAfter: at('2026-12-02T02:30:00Z'), marginMs: 3600_000 }), now, 'would expire first: now');
  assert.equal(renewalSlot({ windows: [w], now: at('2026-12-01T02:10:00Z'), notAfter: at('2026-12-10T00:00:00Z'), marginMs: 0 }), at('2026-12-01T02:10:00Z'), 'inside a window: now');
  assert.equal(renewalSlot({ windows: [], now, notAfter: at('2026-12-10T00:00:00Z'), marginMs: 0 }), now);
});

test.run();
