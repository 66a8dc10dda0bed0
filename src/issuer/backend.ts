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
  /** Requests made so far, by operation, for the cycle report and the bench. */
  stats(): { reads: number; writes: number; errors: number };
  /** The Vault token's upkeep, for the daemon's timer (Vault only). */
  token?: TokenUpkeep;
}

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
