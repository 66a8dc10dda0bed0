/**
 * The daemon's loop with an injected clock: no test sleeps for a renewal. Real files,
 * the embedded local CA; watches, node-cron and signals are off here (they are
 * exercised through the real binary in test/daemon.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDaemon, MAX_TIMER_MS, planWake, type Clock, type Daemon } from './create-daemon.js';
import { silentLogger } from '../observe/logger.js';
import type { CycleReport } from '../cycle/run-cycle.js';
import type { Backend } from '../issuer/backend.js';
import { createLocalCaBackend } from '../issuer/local-ca-backend.js';
import { loadConfig } from '../config/load-config.js';

function fakeClock(start: Date) {
  let now = start.getTime();
  const timers: { at: number; fn: () => void; id: number; ms: number }[] = [];
  let id = 0;
  const clock: Clock = {
    now: () => new Date(now),
    setTimeout: (fn, ms) => {
      timers.push({ at: now + ms, fn, id: ++id, ms });
      return id;
    },
    clearTimeout: (h) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  return {
    clock,
    timers,
    /** Move the clock to the next timer and fire it. */
    async fireNext() {
      timers.sort((a, b) => a.at - b.at);
      const t = timers.shift();
      if (!t) throw new Error('no timer armed');
      now = Math.max(now, t.at);
      t.fn();
    },
    set: (d: Date) => (now = d.getTime()),
  };
}

/** A config and template in a fresh temp dir, a daemon on a fake clock; `body` runs, the dir goes. */
async function withDaemon(
  opts: {
    config: Record<string, unknown>;
    ttl: string;
    start: Date;
    openBackend?: (dir: string, clock: Clock) => () => Promise<Backend>;
    schedule?: (cron: string, tick: () => void) => { stop(): void };
  },
  body: (d: Daemon, f: ReturnType<typeof fakeClock>, dir: string) => Promise<void>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'cr-daemon-'));
  try {
    mkdirSync(join(dir, 'tpl'));
    writeFileSync(join(dir, 'tpl/c.njk'), `{{ secret("pki/issue/d", "common_name=d.test", "ttl=${opts.ttl}").Data.certificate }}`);
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ state_dir: 'state', ...opts.config }));
    const f = fakeClock(opts.start);
    const d = createDaemon({
      configPaths: ['c.json'],
      cwd: dir,
      env: {},
      logger: silentLogger,
      clock: f.clock,
      random: () => 0,
      io: { watch: false, cron: false, signals: false },
      openBackend: opts.openBackend?.(dir, f.clock),
      schedule: opts.schedule,
    });
    await d.start();
    await body(d, f, dir);
    await d.stop();
    assert.is(await d.done, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const withHook = { hook: { svc: { command: ['/bin/true'], order: 1 } }, template: [{ source: 'tpl/c.njk', destination: 'out/c.pem', notify: ['svc'] }] };

const baseReport = (over: Partial<CycleReport>): CycleReport => ({
  mode: 'apply', ok: true, stateDir: '/s', issuances: [], calls: [], files: [], groups: [], hooks: [], warnings: [], requests: { reads: 0, writes: 0, errors: 0, errorsByStatus: {} }, durationMs: 1, ...over,
});

test('the token is renewed on its own timer, retried with backoff when renewal fails, and no more often than planned', async () => {
  const start = new Date('2026-12-01T00:00:00Z');
  const DAY = 86_400_000;
  const renewals: { at: number; ok: boolean }[] = [];
  let opened = 0;
  const config = { local_ca: { max_ttl: '87600h' }, static_secret_render_interval: '87600h', template: [{ source: 'tpl/c.njk', destination: 'out/c.pem' }] };
  // A Vault-like session over the local CA: its token is renewed every 10 days, its first renewal fails.
  const openBackend = (dir: string, clock: Clock) => async (): Promise<Backend> => {
    opened++;
    const local = (await loadConfig({ paths: ['c.json'], cwd: dir, env: {} })).config.local_ca!;
    let renewAt = clock.now().getTime() + 10 * DAY;
    return {
      ...createLocalCaBackend({ stateDir: join(dir, 'state'), config: local, readOnly: false, now: () => clock.now() }),
      token: {
        nextAt: async () => new Date(renewAt),
        renew: async () => {
          const ok = renewals.length > 0;
          renewals.push({ at: clock.now().getTime(), ok });
          if (!ok) throw new Error('connect ECONNREFUSED');
          renewAt = clock.now().getTime() + 10 * DAY;
        },
      },
    };
  };
  await withDaemon({ config, ttl: '8000h', start, openBackend }, async (d, f) => {
    const settle = () => new Promise((r) => setTimeout(r, 20));
    await settle();
    assert.is(opened, 1);
    // The certificate's renewal is months away: its first clamped step is at 2^31-1 ms.
    const tokenTimers = () => f.timers.filter((t) => t.at < start.getTime() + MAX_TIMER_MS);
    assert.is(tokenTimers().length, 1, 'one timer for the token, besides the far renewal');
    await f.fireNext();
    await settle();
    assert.equal(renewals, [{ at: start.getTime() + 10 * DAY, ok: false }], 'renewed exactly at the planned point');
    const retry = tokenTimers()[0];
    assert.ok(retry.ms >= 2_500 && retry.ms <= 5_000, `a failed renewal retries after backoff (${retry.ms} ms)`);
    await f.fireNext();
    await settle();
    assert.equal(renewals.map((r) => r.ok), [false, true]);
    const next = tokenTimers()[0];
    assert.is(next.at, renewals[1].at + 10 * DAY, 'then the next point from the renewed TTL');
    assert.is(d.lastReport()!.issuances.length, 1);
    assert.is(opened, 1, 'one session across the cycles');
    await d.reload();
    await settle();
    assert.is(tokenTimers().length, 0, "a reload drops the session and its token's timer (the next session opens when a cycle needs Vault)");
    assert.is(opened, 1, 'the reload cycle reused the issuance: no session needed');
  });
});

test('planWake: earliest of renewal and refresh; backoff after failures; never a point in the past', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  assert.equal(planWake({ report: baseReport({ nextRenewal: '2026-12-02T00:00:00Z', nextRefresh: '2026-12-01T00:05:00Z' }), now, failures: 0, random: () => 0.5 }), { at: new Date('2026-12-01T00:05:00Z'), reason: 'refresh' });
  const r1 = planWake({ report: baseReport({ nextRenewal: '2026-11-30T00:00:00Z' }), now, failures: 1, random: () => 0 })!;
  assert.is(r1.reason, 'retry');
  assert.is(r1.at.getTime() - now.getTime(), 2_500);
  const r5 = planWake({ report: baseReport({}), now, failures: 12, random: () => 1 })!;
  assert.is(r5.at.getTime() - now.getTime(), 5 * 60_000, 'capped at 5 minutes');
  assert.is(planWake({ report: baseReport({}), now, failures: 0, random: () => 0 }), undefined);
});

test('renews at the stored jittered point, re-arming timers longer than 2^31-1 ms', async () => {
  const start = new Date();
  const config = { local_ca: { max_ttl: '8760h' }, static_secret_render_interval: '8760h', template: [{ source: 'tpl/c.njk', destination: 'out/c.pem' }] };
  await withDaemon({ config, ttl: '2400h', start }, async (d, f) => {
    const first = d.lastReport()!;
    assert.equal(first.issuances.map((i) => [i.action, i.reason]), [['issue', 'missing']]);
    const renewAt = new Date(first.issuances[0].renewAt!);
    assert.equal(d.nextWake(), { at: renewAt, reason: 'renewal' });
    // 100 days at 2/3 = 66 days: longer than a single setTimeout may wait.
    assert.ok(renewAt.getTime() - start.getTime() > MAX_TIMER_MS);
    assert.is(f.timers.length, 1);
    assert.is(f.timers[0].ms, MAX_TIMER_MS, 'clamped');
    // Two clamped steps re-arm without a cycle, the third reaches the point.
    await f.fireNext();
    await f.fireNext();
    assert.is(d.lastReport(), first, 'no cycle before the renewal point');
    await f.fireNext();
    for (let i = 0; i < 1500 && d.lastReport() === first; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(f.clock.now(), renewAt, 'woke exactly at the renewal point');
    assert.equal(d.lastReport()!.issuances.map((i) => i.reason), ['in_window']);
  });
});

test('a renewal that would restart a service waits for the maintenance window', async () => {
  const config = { local_ca: {}, static_secret_render_interval: '8760h', renew_window: [{ cron: '0 3 * * *', duration: '30m' }], ...withHook };
  await withDaemon({ config, ttl: '240h', start: new Date('2026-12-01T12:00:00Z') }, async (d, f) => {
    const renewAt = new Date(d.lastReport()!.issuances[0].renewAt!); // Dec 8 ~04:00 (2/3 of 10 days)
    f.set(new Date(renewAt.getTime() + 60_000));
    await d.checkNow('test');
    const deferred = d.lastReport()!.issuances[0];
    assert.is(deferred.reason, 'deferred_to_window');
    assert.is(deferred.renewAt, '2026-12-09T03:00:00.000Z', 'the next 03:00 UTC window');
    assert.equal(d.nextWake()!.at, new Date('2026-12-09T03:00:00.000Z'));
    f.set(new Date('2026-12-09T03:00:30Z'));
    await d.checkNow('test');
    assert.is(d.lastReport()!.issuances[0].reason, 'in_window', 'renewed inside the window');
  });
});

test('check_schedule ticks re-check disk and state: a deleted file comes back without a new issuance', async () => {
  const ticks: { cron: string; tick: () => void; stopped: boolean }[] = [];
  const schedule = (cron: string, tick: () => void) => {
    const t = { cron, tick, stopped: false };
    ticks.push(t);
    return { stop: () => void (t.stopped = true) };
  };
  const config = { local_ca: {}, check_schedule: '*/5 * * * *', template: [{ source: 'tpl/c.njk', destination: 'out/c.pem' }] };
  await withDaemon({ config, ttl: '720h', start: new Date('2026-12-01T12:00:00Z'), schedule }, async (d, f, dir) => {
    assert.equal(ticks.map((t) => t.cron), ['*/5 * * * *']);
    const cert = readFileSync(join(dir, 'out/c.pem'));
    const first = d.lastReport();
    rmSync(join(dir, 'out/c.pem'));
    f.set(new Date('2026-12-01T12:05:00Z'));
    ticks[0].tick();
    // The file is back before the cycle's report is: wait for the report.
    for (let i = 0; i < 3000 && d.lastReport() === first; i++) await new Promise((r) => setTimeout(r, 10));
    const after = d.lastReport()!;
    const seen = JSON.stringify({ changed: after !== first, issuances: after.issuances.map((i) => [i.action, i.reason]), groups: after.groups.map((g) => g.status) });
    assert.ok(readFileSync(join(dir, 'out/c.pem')).equals(cert), `restored byte-identical (${seen})`);
    assert.equal(d.lastReport()!.issuances.map((i) => i.action), ['reuse']);
  });
  assert.ok(ticks[0].stopped, 'the schedule stops with the daemon');
});

test('a window that comes after expiry does not hold the renewal back', async () => {
  const config = { local_ca: {}, renew_window: [{ cron: '0 3 1 1 *', duration: '2h' }], ...withHook }; // once a year
  await withDaemon({ config, ttl: '240h', start: new Date('2026-12-01T12:00:00Z') }, async (d, f) => {
    f.set(new Date(Date.parse(d.lastReport()!.issuances[0].renewAt!) + 60_000));
    await d.checkNow('test');
    assert.is(d.lastReport()!.issuances[0].reason, 'in_window');
  });
});

test.run();
