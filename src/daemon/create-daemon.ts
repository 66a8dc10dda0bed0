/**
 * `certrender run`: the long-lived renewer. All of its state lives in this closure.
 *
 * At start: take the state directory's lock, run one cycle (which first recovers any
 * journal a crash left). Then sleep until the earliest of: the next renewal point of
 * the issuances in use (jitter drawn at issuance), the next refresh of a read, the next
 * tick of `check_schedule` (node-cron), or a retry after a failed cycle (exponential
 * backoff with jitter, never hammering Vault). Watches reload on config or template
 * edits and restore a destination that drifted (deleted or altered) from the stored
 * issuance, without a new issuance. SIGHUP reloads (an invalid config keeps the old
 * one), SIGUSR1 checks now, SIGTERM/SIGINT stop gracefully (a second one exits at once).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/schema.js';
import type { CycleReport } from '../cycle/run-cycle.js';
import type { Backend } from '../issuer/backend.js';
import { errorFields, type Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { parseCron, renewalSlot, type Window } from './cron.js';
import { acquireLock, type Lock } from './lock.js';

/** setTimeout fires at once beyond this: longer sleeps are re-armed in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_MIN_MS = 5_000;
const RETRY_MAX_MS = 5 * 60_000;
/** A deferred renewal still happens this long before expiry, window or not. */
const EXPIRY_MARGIN_FRACTION = 0.1;

export interface Clock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DaemonOptions {
  configPaths: string[];
  cwd: string;
  stateDirFlag?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  clock?: Clock;
  random?: () => number;
  /** Off in unit tests: chokidar watches, node-cron ticks, process signals. */
  io?: { watch: boolean; cron: boolean; signals: boolean };
  /** Fires `check_schedule` ticks; node-cron by default, a fake in unit tests. */
  schedule?: (cron: string, tick: () => void) => { stop(): void };
  /** Test hook for the swap, as in `once`. */
  pause?: (point: string) => Promise<void>;
  /** Unit tests: the backend the session opens (default: the config's; a local CA is opened afresh each cycle). */
  openBackend?: () => Promise<Backend>;
}

export interface Daemon {
  start(): Promise<void>;
  /** Run a cycle now (SIGUSR1, `renew --now`), or after the current one. */
  checkNow(reason: string): Promise<void>;
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves with the exit code once stopped. */
  done: Promise<number>;
  /** For tests: when the daemon plans to wake next, and why. */
  nextWake(): { at: Date; reason: string } | undefined;
  lastReport(): CycleReport | undefined;
}

/** When to wake after a cycle: the earliest renewal or refresh, or a backoff retry after a failure. Pure. */
export function planWake(opts: { report: CycleReport; now: Date; failures: number; random: () => number }): { at: Date; reason: string } | undefined {
  const { report, now } = opts;
  const candidates: { at: Date; reason: string }[] = [];
  if (report.nextRenewal) candidates.push({ at: new Date(report.nextRenewal), reason: 'renewal' });
  if (report.nextRefresh) candidates.push({ at: new Date(report.nextRefresh), reason: 'refresh' });
  if (opts.failures > 0) {
    const cap = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (opts.failures - 1));
    candidates.push({ at: new Date(now.getTime() + cap / 2 + (cap / 2) * opts.random()), reason: 'retry' });
  }
  const sorted = candidates.sort((a, b) => a.at.getTime() - b.at.getTime());
  const first = sorted[0];
  // Never spin: a point already past (a renewal the cycle could not make) waits for the retry.
  if (first && first.at.getTime() <= now.getTime()) return sorted.find((c) => c.at.getTime() > now.getTime()) ?? { at: new Date(now.getTime() + RETRY_MIN_MS), reason: 'retry' };
  return first;
}

/** Did the cycle fail in a way worth retrying soon (Vault down, a write that failed)? */
function cycleFailed(r: CycleReport): boolean {
  return !r.ok || r.calls.some((c) => c.status === 'failed') || r.issuances.some((i) => i.action === 'failed');
}

export function createDaemon(opts: DaemonOptions): Daemon {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const io = opts.io ?? { watch: true, cron: true, signals: true };
  const log = opts.logger;
  let loaded: LoadedConfig | undefined;
  let stateDir = '';
  let lock: Lock | undefined;
  let timer: { cancel(): void } | undefined;
  let session: Promise<Backend> | undefined;
  let tokenTimer: { cancel(): void } | undefined;
  let tokenFailures = 0;
  let renewing = false;
  let wake: { at: Date; reason: string } | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let stopping = false;
  let report: CycleReport | undefined;
  let metrics: Metrics | undefined;
  let cronTask: { stop(): void } | undefined;
  let watcher: { close(): Promise<void> } | undefined;
  /** sha256 of each destination as the last cycle left it (undefined: absent). */
  let known = new Map<string, string | undefined>();
  const cleanups: (() => void)[] = [];
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  async function load(): Promise<LoadedConfig> {
    const { loadConfig } = await import('../config/load-config.js');
    return loadConfig({ paths: opts.configPaths, cwd: opts.cwd, env: opts.env });
  }

  function windows(): Window[] {
    return (loaded?.config.renew_window ?? []).map((w) => ({ cron: parseCron(w.cron), durationMs: w.duration }));
  }

  function destinations(): string[] {
    return (loaded?.config.template ?? []).map((t) => resolve(loaded!.baseDir, t.destination));
  }

  function hashOf(path: string): string | undefined {
    try {
      return createHash('sha256').update(readFileSync(path)).digest('hex');
    } catch {
      return undefined;
    }
  }

  /** Calls `fire` at `at`: long sleeps are taken in steps below 2^31-1 ms and re-armed. */
  function after(at: Date, fire: () => void): { cancel(): void } {
    let handle: unknown;
    const set = () => {
      const delay = Math.max(0, at.getTime() - clock.now().getTime());
      handle = clock.setTimeout(() => (at.getTime() > clock.now().getTime() ? set() : fire()), Math.min(delay, MAX_TIMER_MS));
    };
    set();
    return { cancel: () => clock.clearTimeout(handle) };
  }

  function arm(at: Date, reason: string): void {
    timer?.cancel();
    wake = { at, reason };
    timer = after(at, () => {
      timer = undefined;
      void checkNow(reason);
    });
    log.debug('daemon_sleeping', { until: at.toISOString(), reason });
  }

  /**
   * The Vault session outlives cycles, so its login token does too; a reload opens a new
   * one. Its token is renewed (or replaced by a new login) on a timer at 2/3 of its TTL,
   * retried with backoff when Vault is down, never more often than that.
   */
  function openSession(): Promise<Backend> {
    const cfg = loaded!;
    const open = opts.openBackend ?? (async () => (await import('../cycle/run-cycle.js')).openBackend({ loaded: cfg, stateDir, apply: true, now: () => clock.now(), env: opts.env, logger: log }));
    if (cfg.config.local_ca && !opts.openBackend) return open();
    if (!session) {
      const opening = open();
      session = opening;
      opening.catch(() => {
        if (session === opening) session = undefined;
      });
    }
    return session;
  }

  function dropSession(): void {
    session = undefined;
    tokenTimer?.cancel();
    tokenTimer = undefined;
  }

  async function keepToken(): Promise<void> {
    const current = session;
    const upkeep = current && (await current.catch(() => undefined))?.token;
    // A renewal in flight plans the next one itself.
    if (!upkeep || stopping || renewing || session !== current) return;
    let at: Date | undefined;
    try {
      at = await upkeep.nextAt();
    } catch (e) {
      log.warn('vault_token_lookup_failed', { error: errorFields(e) });
      return;
    }
    if (stopping || session !== current) return;
    tokenTimer?.cancel();
    tokenTimer = at && after(at, () => void renewToken(current));
    if (at) log.debug('vault_token_renewal_planned', { at: at.toISOString() });
  }

  async function renewToken(current: Promise<Backend>): Promise<void> {
    tokenTimer = undefined;
    renewing = true;
    try {
      await (await current).token!.renew();
      renewing = false;
      tokenFailures = 0;
      metrics?.tokenRenewal('ok');
      await keepToken();
    } catch (e) {
      renewing = false;
      tokenFailures++;
      metrics?.tokenRenewal('failed');
      const cap = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (tokenFailures - 1));
      const at = new Date(clock.now().getTime() + cap / 2 + (cap / 2) * random());
      log.error('vault_token_renew_failed', { error: errorFields(e), failures: tokenFailures, retry_at: at.toISOString() });
      if (!stopping && session === current) tokenTimer = after(at, () => void renewToken(current));
    }
  }

  async function cycleOnce(reason: string): Promise<void> {
    const { runCycle } = await import('../cycle/run-cycle.js');
    const started = clock.now();
    log.info('cycle_started', { reason });
    try {
      const wins = windows();
      report = await runCycle({
        loaded: loaded!,
        mode: 'apply',
        stateDir,
        logger: log,
        now: () => clock.now(),
        random,
        forceRenew: [],
        env: opts.env,
        pause: opts.pause,
        openBackend: openSession,
        // Disruptive renewals (those that notify hooks) wait for a maintenance window.
        deferRenewal: wins.length
          ? ({ destinations: dests, notAfter, now }) => {
              const notifies = loaded!.config.template.some((t) => dests.includes(resolve(loaded!.baseDir, t.destination)) && (t.notify.length > 0 || t.command !== undefined));
              if (!notifies) return undefined;
              const lifetime = Math.max(0, notAfter.getTime() - now.getTime());
              const slot = renewalSlot({ windows: wins, now, notAfter, marginMs: lifetime * EXPIRY_MARGIN_FRACTION });
              return slot.getTime() > now.getTime() ? slot : undefined;
            }
          : undefined,
      });
      failures = cycleFailed(report) ? failures + 1 : 0;
      if (metrics) {
        const { X509Certificate } = await import('node:crypto');
        const notAfter = new Map<string, Date>();
        for (const d of destinations()) {
          try {
            notAfter.set(d, new Date(new X509Certificate(readFileSync(d)).validTo));
          } catch {
            /* not a certificate */
          }
        }
        metrics.observeCycle(report, notAfter);
      }
    } catch (e) {
      failures++;
      metrics?.cycleFailed();
      log.error('cycle_error', { error: errorFields(e) });
    }
    known = new Map(destinations().map((d) => [d, hashOf(d)]));
    if (stopping) return;
    void keepToken();
    const next = report ? planWake({ report, now: clock.now(), failures, random }) : undefined;
    if (next) arm(next.at, next.reason);
    else if (failures > 0) arm(new Date(clock.now().getTime() + RETRY_MIN_MS), 'retry');
    log.info('cycle_finished', { reason, failures, duration_ms: clock.now().getTime() - started.getTime(), next_wake: next?.at.toISOString(), next_reason: next?.reason });
  }

  function checkNow(reason: string): Promise<void> {
    if (stopping) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await cycleOnce(reason);
      } while (again && !stopping);
      running = undefined;
    })();
    return running;
  }

  /** Reloads are serialised: SIGHUP and a watched edit often arrive together. */
  let reloading: Promise<void> = Promise.resolve();
  function reload(): Promise<void> {
    reloading = reloading.then(reloadOnce, reloadOnce);
    return reloading;
  }

  async function reloadOnce(): Promise<void> {
    if (stopping) return;
    let next: LoadedConfig;
    try {
      next = await load();
    } catch (e) {
      log.error('reload_failed', { error: errorFields(e), hint: 'still running with the previous config' });
      return;
    }
    const { resolveStateDir } = await import('../state/state-dir.js');
    const nextState = resolveStateDir({ flag: opts.stateDirFlag, configured: next.config.state_dir, configFiles: next.files, env: opts.env, cwd: opts.cwd, isRoot: process.getuid?.() === 0 });
    if (nextState !== stateDir) {
      log.error('reload_failed', { error: { message: `the new config moves the state directory to ${nextState}` }, hint: 'restart certrender to change the state directory; still running with the previous config' });
      return;
    }
    loaded = next;
    dropSession();
    log.info('config_reloaded', { files: next.files });
    await setupWatches();
    await checkNow('reload');
  }

  async function setupWatches(): Promise<void> {
    if (!io.watch || stopping) return;
    const old = watcher;
    watcher = undefined;
    await old?.close();
    const { watch } = await import('chokidar');
    const configFiles = loaded!.files;
    const sources = loaded!.config.template.filter((t) => t.source).map((t) => resolve(loaded!.baseDir, t.source!));
    const dests = destinations();
    const w = watch([...configFiles, ...sources, ...dests], { ignoreInitial: true, atomic: false });
    w.on('all', (event, path) => {
      if (stopping) return;
      const p = resolve(path);
      if (configFiles.includes(p) || sources.includes(p)) {
        log.info('watched_file_changed', { path: p, change: event });
        void reload();
      } else if (dests.includes(p) && !running) {
        // Our own writes leave the hash we recorded; anything else is drift.
        if (hashOf(p) === known.get(p)) return;
        log.warn('destination_drifted', { path: p, change: event });
        void checkNow('drift');
      }
    });
    watcher = w;
  }

  async function start(): Promise<void> {
    loaded = await load();
    const { resolveStateDir, ensureDir } = await import('../state/state-dir.js');
    stateDir = resolveStateDir({ flag: opts.stateDirFlag, configured: loaded.config.state_dir, configFiles: loaded.files, env: opts.env, cwd: opts.cwd, isRoot: process.getuid?.() === 0 });
    ensureDir(stateDir);
    lock = acquireLock(stateDir);
    if (loaded.config.listen) {
      const { startMetrics } = await import('../observe/metrics.js');
      metrics = await startMetrics({ listen: loaded.config.listen, now: () => clock.now() });
      log.info('metrics_listening', { address: metrics.address() });
    }
    if (io.signals) {
      const on = (sig: NodeJS.Signals, fn: () => void) => {
        process.on(sig, fn);
        cleanups.push(() => process.off(sig, fn));
      };
      on('SIGHUP', () => void reload());
      on('SIGUSR1', () => void checkNow('signal'));
      let signalled = 0;
      const term = (sig: NodeJS.Signals) => () => {
        if (++signalled > 1) {
          log.warn('daemon_exit_now', { signal: sig });
          lock?.release();
          process.exit(130);
        }
        log.info('daemon_stopping', { signal: sig });
        void stop();
      };
      on('SIGTERM', term('SIGTERM'));
      on('SIGINT', term('SIGINT'));
    }
    log.info('daemon_started', { pid: process.pid, state_dir: stateDir, files: loaded.files });
    await checkNow('start');
    if (opts.schedule) {
      cronTask = opts.schedule(loaded.config.check_schedule, () => void checkNow('schedule'));
    } else if (io.cron) {
      const cron = await import('node-cron');
      const task = cron.schedule(loaded.config.check_schedule, () => void checkNow('schedule'), { timezone: 'UTC' });
      cronTask = { stop: () => void task.stop() };
    }
    await setupWatches();
    await notifyReady();
  }

  /** systemd Type=notify: READY=1 after the first full cycle (NotifyAccess=all). */
  async function notifyReady(): Promise<void> {
    if (!opts.env.NOTIFY_SOCKET) return;
    const { spawn } = await import('node:child_process');
    await new Promise<void>((r) => {
      const child = spawn('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=certrender: first cycle done`], { env: opts.env, stdio: 'ignore' });
      child.on('error', (e) => {
        log.warn('systemd_notify_failed', { error: (e as Error).message });
        r();
      });
      child.on('exit', () => r());
    });
    log.info('systemd_ready', {});
  }

  async function stop(): Promise<void> {
    if (stopping) return done.then(() => undefined);
    stopping = true;
    timer?.cancel();
    tokenTimer?.cancel();
    cronTask?.stop();
    await reloading;
    await watcher?.close();
    // A cycle in flight completes: its swap finishes (or rolls back), its hooks get their timeout.
    await running;
    await metrics?.close();
    for (const c of cleanups) c();
    lock?.release();
    log.info('daemon_stopped', {});
    resolveDone(0);
  }

  return { start, checkNow, reload, stop, done, nextWake: () => wake, lastReport: () => report };
}
