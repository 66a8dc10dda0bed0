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
}
