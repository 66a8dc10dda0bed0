/**
 * The Issuer interface: where a template's Vault calls go. Two backends answer it with
 * the same response shapes: Vault/OpenBao over HTTP, and the embedded local CA.
 */
import type { VaultResponse } from '../template/vault-response.js';

export interface Backend {
  kind: 'vault' | 'local';
  /** GET <path>. */
  read(path: string): Promise<VaultResponse>;
  /** LIST <path> (KV key listing: `secrets` in templates). */
  list(path: string): Promise<VaultResponse>;
  /** PUT/POST <path> with a JSON body. */
  write(path: string, body: Record<string, unknown>): Promise<VaultResponse>;
  /** Requests made so far, for the cycle report, the metrics and the bench. */
  stats(): RequestStats;
  /** The Vault token's upkeep, for the daemon's timer (Vault only). */
  token?: TokenUpkeep;
}

export interface RequestStats {
  reads: number;
  writes: number;
  /** Failed attempts (a retried request counts each time)... */
  errors: number;
  /** ...by HTTP status ("403", "503"), or "network" (no answer), "bad_response" (no usable body), "local" (local CA). */
  errorsByStatus: Record<string, number>;
}

/** `now` minus `before`, field by field. */
export function statsSince(now: RequestStats, before: RequestStats): RequestStats {
  const byStatus = Object.entries(now.errorsByStatus)
    .map(([k, n]) => [k, n - (before.errorsByStatus[k] ?? 0)] as const)
    .filter(([, n]) => n > 0);
  return { reads: now.reads - before.reads, writes: now.writes - before.writes, errors: now.errors - before.errors, errorsByStatus: Object.fromEntries(byStatus) };
}

export const NO_REQUESTS: RequestStats = Object.freeze({ reads: 0, writes: 0, errors: 0, errorsByStatus: Object.freeze({}) as Record<string, number> });

export interface TokenUpkeep {
  /**
   * When the token should next be renewed or replaced (2/3 of its TTL), or undefined when
   * there is nothing to do: no expiry, not renewable, not ours to renew, no login yet.
   */
  nextAt(): Promise<Date | undefined>;
  /** Renews (renew-self) or replaces (a new login) the token now. */
  renew(): Promise<void>;
}

/**
 * `backend` with at most `limit` requests in flight; the others queue in call order. A
 * slot is held for the request alone, not for what the caller does with the answer
 * (validating, persisting), so the next request is already on its way meanwhile.
 */
export function limitRequests(backend: Backend, limit: number): Backend {
  let active = 0;
  const queue: (() => void)[] = [];
  const slot = async <T>(request: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((r) => queue.push(r));
    else active++;
    try {
      return await request();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
  return {
    ...backend,
    read: (path) => slot(() => backend.read(path)),
    list: (path) => slot(() => backend.list(path)),
    write: (path, body) => slot(() => backend.write(path, body)),
  };
}
