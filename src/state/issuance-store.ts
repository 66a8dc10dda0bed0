/**
 * Issuances persisted in the state directory, one JSON file each (mode 0600: it holds
 * the private key needed to re-render without a new issuance), reads cached for
 * static_secret_render_interval, and the trust anchor pinned per mount at its first
 * issuance.
 *
 * An issuance is keyed by its slot: the PKI path plus the destinations of the templates
 * that consume it. The slot survives a change of the request (a new SAN), so the
 * decision can say `request_changed` rather than `missing`.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { shortHash } from '../template/vault-call.js';
import type { VaultResponse } from '../template/vault-response.js';
import { readJsonIfExists, writeFileAtomic, writeFileAtomicSync } from './state-dir.js';

export interface IssuanceRecord {
  version: 1;
  slot: string;
  /** Human-readable: PKI path and destinations (no secrets). */
  path: string;
  destinations: string[];
  requestHash: string;
  issuedAt: string;
  notBefore: string;
  notAfter: string;
  renewAt: string;
  serial: string;
  subject: string;
  issuer: string;
  leafFingerprint256: string;
  issuerPublicKeyFingerprint256: string;
  reason: string;
  response: VaultResponse;
}

export function slotFor(path: string, destinations: string[]): string {
  return shortHash(`${path}\n${[...destinations].sort().join('\n')}`, 24);
}

export interface PendingHooks {
  names: string[];
  /** Template index -> destinations written, as planHooks takes them. */
  written: [number, string[]][];
  since: string;
}

export interface Quarantine {
  requestHash: string;
  serial: string;
  at: string;
  reason: string;
}

/** A cached read (not an issuance): reused for static_secret_render_interval. */
export interface ReadRecord {
  version: 1;
  path: string;
  fetchedAt: string;
  response: VaultResponse;
}

export function createIssuanceStore(stateDir: string) {
  const issuanceDir = join(stateDir, 'issuances');
  const readDir = join(stateDir, 'reads');
  const anchorDir = join(stateDir, 'anchors');
  const anchorFile = (mount: string) => join(anchorDir, `${mount.replace(/[^A-Za-z0-9_.-]/g, '_')}-${shortHash(mount, 8)}.pem`);
  return {
    dir: stateDir,
    get(slot: string): IssuanceRecord | undefined {
      return readJsonIfExists<IssuanceRecord>(join(issuanceDir, `${slot}.json`));
    },
    put(record: IssuanceRecord): void {
      writeFileAtomicSync(join(issuanceDir, `${record.slot}.json`), JSON.stringify(record, null, 1), 0o600);
    },
    /** put, with the fsyncs off the event loop (a cycle stores issuances while others are in flight). */
    putAsync(record: IssuanceRecord): Promise<void> {
      return writeFileAtomic(join(issuanceDir, `${record.slot}.json`), JSON.stringify(record, null, 1), 0o600);
    },
    remove(slot: string): void {
      rmSync(join(issuanceDir, `${slot}.json`), { force: true });
    },
    /** A rolled-back issuance: not applied again until the request changes or a renewal is forced. */
    getQuarantine(slot: string): Quarantine | undefined {
      return readJsonIfExists<Quarantine>(join(stateDir, 'quarantine', `${slot}.json`));
    },
    putQuarantine(slot: string, q: Quarantine): void {
      writeFileAtomicSync(join(stateDir, 'quarantine', `${slot}.json`), JSON.stringify(q, null, 1), 0o600);
    },
    clearQuarantine(slot: string): void {
      rmSync(join(stateDir, 'quarantine', `${slot}.json`), { force: true });
    },
    /** Hooks that failed or were skipped: run again by the next cycle even if nothing changes. */
    getPendingHooks(): PendingHooks | undefined {
      return readJsonIfExists<PendingHooks>(join(stateDir, 'pending-hooks.json'));
    },
    putPendingHooks(p: PendingHooks): void {
      writeFileAtomicSync(join(stateDir, 'pending-hooks.json'), JSON.stringify(p, null, 1), 0o600);
    },
    clearPendingHooks(): void {
      rmSync(join(stateDir, 'pending-hooks.json'), { force: true });
    },
    list(): IssuanceRecord[] {
      let names: string[];
      try {
        names = readdirSync(issuanceDir).filter((n) => n.endsWith('.json'));
      } catch {
        return [];
      }
      return names.sort().flatMap((n) => {
        const r = readJsonIfExists<IssuanceRecord>(join(issuanceDir, n));
        return r ? [r] : [];
      });
    },
    getRead(id: string): ReadRecord | undefined {
      return readJsonIfExists<ReadRecord>(join(readDir, `${shortHash(id, 24)}.json`));
    },
    putRead(id: string, record: ReadRecord): void {
      writeFileAtomicSync(join(readDir, `${shortHash(id, 24)}.json`), JSON.stringify(record), 0o600);
    },
    /** writeToFile "append": a hash of the data last appended to a path. */
    getAppendMark(path: string): string | undefined {
      return readJsonIfExists<{ mark: string }>(join(stateDir, 'appends', `${shortHash(path, 24)}.json`))?.mark;
    },
    putAppendMark(path: string, mark: string): void {
      writeFileAtomicSync(join(stateDir, 'appends', `${shortHash(path, 24)}.json`), JSON.stringify({ path, mark }), 0o600);
    },
    getAnchor(mount: string): string | undefined {
      try {
        return readFileSync(anchorFile(mount), 'utf8');
      } catch {
        return undefined;
      }
    },
    pinAnchor(mount: string, pem: string): void {
      writeFileAtomicSync(anchorFile(mount), pem.trim() + '\n', 0o600);
    },
  };
}

export type IssuanceStore = ReturnType<typeof createIssuanceStore>;
