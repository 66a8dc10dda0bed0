/**
 * Run the hooks a cycle notified: once each, in order, one at a time, each followed by
 * its gate. A failure (cannot start, non-zero exit, timeout, gate not passing) is
 * handled by the hook's policy: `continue` goes on, `stop` skips the rest, `rollback`
 * skips the rest and tells the caller to restore the groups written in this cycle.
 */
import type { Logger } from '../observe/logger.js';
import { pollGate } from './gates.js';
import type { HookToRun } from './plan-hooks.js';
import { hookEnv, runCommand } from './run-command.js';

export interface HookReport {
  name: string;
  order: number;
  phase: 'apply' | 'rollback';
  status: 'ok' | 'failed' | 'skipped';
  exitCode?: number | null;
  signal?: string | null;
  timedOut?: boolean;
  durationMs?: number;
  gate?: { ok: boolean; attempts: number; durationMs: number; detail: string };
  reason?: string;
}

export async function runHooks(opts: {
  hooks: HookToRun[];
  phase: 'apply' | 'rollback';
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<{ reports: HookReport[]; failed?: HookToRun }> {
  const reports: HookReport[] = [];
  let failed: HookToRun | undefined;
  for (const h of opts.hooks) {
    const base = { name: h.name, order: h.order, phase: opts.phase };
    if (failed && failed.onFailure !== 'continue') {
      reports.push({ ...base, status: 'skipped', reason: `hook "${failed.name}" failed (on_failure = ${failed.onFailure})` });
      opts.logger.warn('hook_skipped', { hook: h.name, after_failure_of: failed.name });
      continue;
    }
    opts.logger.info('hook_started', { hook: h.name, order: h.order, phase: opts.phase, changed: h.changed });
    const env = hookEnv({ from: opts.env, changed: h.changed });
    const r = await runCommand({ argv: h.argv, shell: h.shell, timeoutMs: h.timeoutMs, graceMs: h.graceMs, env });
    const report: HookReport = { ...base, status: 'ok', exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, durationMs: r.durationMs };
    let reason: string | undefined;
    if (r.spawnError) reason = `cannot start ${h.argv[0]}: ${r.spawnError}`;
    else if (r.timedOut) reason = `timed out after ${h.timeoutMs} ms`;
    else if (r.exitCode !== 0) reason = `exited with ${r.exitCode ?? r.signal}`;
    opts.logger[reason ? 'error' : 'info'](reason ? 'hook_failed' : 'hook_finished', {
      hook: h.name,
      phase: opts.phase,
      exit_code: r.exitCode,
      signal: r.signal,
      timed_out: r.timedOut,
      duration_ms: r.durationMs,
      output: r.output.slice(-4096),
      output_truncated: r.truncated,
      reason,
    });
    if (!reason && h.gate) {
      const g = await pollGate({
        gate: h.gate,
        env,
        onAttempt: (n, a) => opts.logger.debug('gate_attempt', { hook: h.name, type: h.gate!.type, attempt: n, ok: a.ok, detail: a.detail }),
      });
      report.gate = g;
      opts.logger[g.ok ? 'info' : 'error'](g.ok ? 'gate_passed' : 'gate_failed', { hook: h.name, type: h.gate.type, attempts: g.attempts, duration_ms: g.durationMs, detail: g.detail });
      if (!g.ok) reason = `gate (${h.gate.type}) did not pass after ${g.attempts} attempt(s): ${g.detail}`;
    }
    if (reason) {
      report.status = 'failed';
      report.reason = reason;
      if (!failed || failed.onFailure === 'continue') failed = h;
    }
    reports.push(report);
  }
  return { reports, failed };
}
