/**
 * The hook phase of a cycle: the hooks notified by the groups written (plan: those that
 * would be), plus the ones a previous cycle could not run; then, when a failing hook's
 * policy is `rollback`, the groups written are restored from the cycle's snapshot, the
 * issuances behind them quarantined, and the hooks run again.
 */
import { dirname } from 'node:path';
import type { Config } from '../config/schema.js';
import { planHooks } from '../hooks/plan-hooks.js';
import type { HookReport } from '../hooks/run-hooks.js';
import type { Logger } from '../observe/logger.js';
import type { OnDisk, PlannedGroup } from '../plan/plan-groups.js';
import type { IssuanceRecord, IssuanceStore } from '../state/issuance-store.js';

export type PhaseHookReport = HookReport | { name: string; order: number; phase: 'apply'; status: 'would_run' };

export async function runHookPhase(opts: {
  config: Config;
  baseDir: string;
  apply: boolean;
  groups: PlannedGroup[];
  results: Map<string, string>;
  store: IssuanceStore;
  /** Issuances made in this cycle, with the record each replaced. */
  issuedNow: Map<string, { record: IssuanceRecord; previous?: IssuanceRecord }>;
  disk: Map<string, OnDisk>;
  journalDir: string;
  atomicDirs: Map<string, unknown>;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  logger: Logger;
  pause?: (p: string) => Promise<void>;
}): Promise<{ reports: PhaseHookReport[]; failed?: string; rolledBack: string[] }> {
  const { config, apply, groups, results, store, logger } = opts;
  const writtenBy = new Map<number, string[]>();
  for (const g of groups) {
    // plan: groups that would be written, and those waiting for a new issuance (they would be too)
    const st = results.get(g.id);
    if (apply ? st !== 'written' : st !== 'would_write' && st !== 'unknown') continue;
    for (const o of g.outputs) if (o.change !== 'none') writtenBy.set(o.index, [...(writtenBy.get(o.index) ?? []), o.destination]);
  }
  // Hooks a previous cycle could not run (failed or skipped under `stop`/`continue`) run again now.
  const pending = store.getPendingHooks();
  const notified = new Set(planHooks({ config, baseDir: opts.baseDir, written: writtenBy }).map((h) => h.name));
  const withPending = new Map(writtenBy);
  for (const [i, dests] of pending?.written ?? []) {
    if (i < config.template.length) withPending.set(i, [...new Set([...(withPending.get(i) ?? []), ...dests])]);
  }
  const hooks = planHooks({ config, baseDir: opts.baseDir, written: withPending }).filter((h) => notified.has(h.name) || pending?.names.includes(h.name));
  if (pending && hooks.some((h) => !notified.has(h.name))) logger.warn('hooks_pending', { hooks: hooks.filter((h) => !notified.has(h.name)).map((h) => h.name), since: pending.since });
  if (!apply) return { reports: hooks.map((h) => ({ name: h.name, order: h.order, phase: 'apply' as const, status: 'would_run' as const })), rolledBack: [] };
  if (hooks.length === 0) {
    if (pending) store.clearPendingHooks();
    return { reports: [], rolledBack: [] };
  }

  const { runHooks } = await import('../hooks/run-hooks.js');
  const applied = await runHooks({ hooks, phase: 'apply', env: opts.env, logger });
  const reports: PhaseHookReport[] = [...applied.reports];
  const notDone = applied.reports.filter((r) => r.status !== 'ok').map((r) => r.name);
  if (notDone.length && applied.failed?.onFailure !== 'rollback') {
    store.putPendingHooks({ names: notDone, written: [...withPending.entries()], since: pending?.since ?? opts.now().toISOString() });
  } else {
    store.clearPendingHooks();
  }
  if (!applied.failed || applied.failed.onFailure !== 'rollback') return { reports, failed: applied.failed?.name, rolledBack: [] };

  const failed = applied.failed.name;
  const written = groups.filter((g) => results.get(g.id) === 'written');
  await rollBack({ groups: written, disk: opts.disk, journalDir: opts.journalDir, atomicDirs: opts.atomicDirs, pause: opts.pause, logger });
  // Quarantine what was issued for the rolled-back groups, and put the previous issuance back.
  const rolled = new Set(written.flatMap((g) => g.outputs.map((o) => o.destination)));
  for (const [slot, { record, previous }] of opts.issuedNow) {
    if (!record.destinations.some((d) => rolled.has(d))) continue;
    store.putQuarantine(slot, { requestHash: record.requestHash, serial: record.serial, at: opts.now().toISOString(), reason: `hook "${failed}" failed` });
    if (previous) store.put(previous);
    else store.remove(slot);
    logger.error('issuance_quarantined', { path: record.path, destinations: record.destinations, serial: record.serial });
  }
  const again = await runHooks({ hooks, phase: 'rollback', env: opts.env, logger });
  reports.push(...again.reports);
  return { reports, failed, rolledBack: written.map((g) => g.id) };
}

/**
 * Put the files of the given groups back as they were before this cycle, from the
 * snapshot taken at its start: changed files through the same journaled swap, files
 * the cycle created removed.
 */
async function rollBack(opts: {
  groups: PlannedGroup[];
  disk: Map<string, OnDisk>;
  journalDir: string;
  atomicDirs: Map<string, unknown>;
  pause?: (p: string) => Promise<void>;
  logger: Logger;
}): Promise<void> {
  const { swapGroup, swapAtomicDir } = await import('../fs/swap-group.js');
  const { rm } = await import('node:fs/promises');
  const byAtomicDir = new Map<string, { name: string; content: Buffer; mode: number; uid?: number; gid?: number }[]>();
  for (const g of opts.groups) {
    const changed = g.outputs.filter((o) => o.change !== 'none');
    const restore = changed.filter((o) => opts.disk.get(o.destination)?.exists);
    const created = changed.filter((o) => !opts.disk.get(o.destination)?.exists);
    const plain = restore.filter((o) => !opts.atomicDirs.has(dirname(o.destination)));
    for (const o of restore.filter((o) => opts.atomicDirs.has(dirname(o.destination)))) {
      const before = opts.disk.get(o.destination)!;
      const list = byAtomicDir.get(dirname(o.destination)) ?? [];
      list.push({ name: o.destination.slice(dirname(o.destination).length + 1), content: before.content!, mode: before.mode!, uid: before.uid, gid: before.gid });
      byAtomicDir.set(dirname(o.destination), list);
    }
    if (plain.length) {
      await swapGroup({
        groupId: `${g.id}.rollback`,
        journalDir: opts.journalDir,
        pause: opts.pause,
        files: plain.map((o) => {
          const before = opts.disk.get(o.destination)!;
          return { path: o.destination, content: before.content!, mode: before.mode!, uid: before.uid, gid: before.gid, backup: false, createDirs: false };
        }),
      });
    }
    for (const o of created) await rm(o.destination, { force: true });
    opts.logger.warn('group_restored', { group: g.id, restored: restore.map((o) => o.destination), removed: created.map((o) => o.destination) });
  }
  for (const [dir, files] of byAtomicDir) {
    await swapAtomicDir({ dir, files, keep: 1, journalDir: opts.journalDir, pause: opts.pause });
  }
}
