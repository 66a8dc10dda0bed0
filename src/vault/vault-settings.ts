/**
 * Where to reach Vault and with which token and TLS settings: the config's `vault {}`
 * block first, then the environment (VAULT_* and OpenBao's BAO_*), then ~/.vault-token.
 * Resolved here once, so node-vault never reads the environment on its own (it would
 * treat VAULT_SKIP_VERIFY="false" as "skip").
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { CertrenderError } from '../errors.js';
import type { VaultConfig } from '../config/schema.js';

/** A login that yields the token (Agent auto_auth approle/kubernetes, consul-template k8s_*). */
export type VaultLogin =
  | { method: 'approle'; mountPath: string; roleIdFile: string; secretIdFile: string; removeSecretIdFile: boolean }
  | { method: 'kubernetes'; mountPath: string; role: string; jwt?: string; tokenPath: string };

export interface VaultSettings {
  address: string;
  namespace?: string;
  /** Re-evaluated before each request: a token file may change under a running daemon. */
  token: () => string | undefined;
  /** When set (and no token file is), the token comes from this login instead of `token`. */
  login?: VaultLogin;
  /** Where the token came from, for error messages (never the token itself). */
  tokenSource: string;
  /**
   * Whether `certrender run` renews a given token before it expires (renew-self on a
   * timer). consul-template's `renew_token`: on by default, off for a token file (whoever
   * writes the file keeps it alive). A login token is replaced by a new login instead.
   */
  renewToken: boolean;
  tls: { caCert?: string; caPath?: string; clientCert?: string; clientKey?: string; serverName?: string; skipVerify: boolean };
  retry: { attempts: number; backoffMs: number; maxBackoffMs: number };
  timeoutMs: number;
}

/** VAULT_SKIP_VERIFY is a boolean: "false", "0", "" and unset mean verify. */
export function parseBoolEnv(v: string | undefined): boolean {
  if (v === undefined) return false;
  const s = v.trim().toLowerCase();
  if (['', '0', 'false', 'f', 'no', 'off'].includes(s)) return false;
  if (['1', 'true', 't', 'yes', 'on'].includes(s)) return true;
  throw new CertrenderError('CR_CONFIG_INVALID', `VAULT_SKIP_VERIFY="${v}" is not a boolean`, { hint: 'use true or false' });
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new CertrenderError('CR_VAULT_AUTH', `cannot read the Vault token file ${file}: ${(e as NodeJS.ErrnoException).code}`, {
      hint: 'check vault.token_file (or vault_agent_token_file) and its permissions',
      cause: e,
    });
  }
}

export function resolveVaultSettings(opts: { vault?: VaultConfig; env: NodeJS.ProcessEnv; baseDir: string }): VaultSettings {
  const v = opts.vault;
  const env = (name: string) => opts.env[`VAULT_${name}`] ?? opts.env[`BAO_${name}`];
  const abs = (p?: string) => (p ? resolve(opts.baseDir, p) : undefined);
  const tokenFile = abs(v?.vault_agent_token_file ?? v?.token_file);
  let token: () => string | undefined = () => undefined;
  let tokenSource: string;
  let login: VaultLogin | undefined;
  const auth = v?.auth;
  if (tokenFile) {
    token = () => readToken(tokenFile);
    tokenSource = `token file ${tokenFile}`;
  } else if (auth) {
    const mountPath = auth.mount_path ?? auth.method;
    login =
      auth.method === 'approle'
        ? { method: 'approle', mountPath, roleIdFile: abs(auth.role_id_file)!, secretIdFile: abs(auth.secret_id_file)!, removeSecretIdFile: auth.remove_secret_id_file }
        : { method: 'kubernetes', mountPath, role: auth.role!, jwt: auth.jwt, tokenPath: abs(auth.token_path)! };
    tokenSource = `${auth.method} login at auth/${mountPath}`;
  } else if (v?.token) {
    const t = v.token;
    token = () => t;
    tokenSource = 'vault.token in the config';
  } else if (env('TOKEN')) {
    const t = env('TOKEN');
    token = () => t;
    tokenSource = opts.env.VAULT_TOKEN !== undefined ? 'VAULT_TOKEN' : 'BAO_TOKEN';
  } else {
    const home = resolve(homedir(), '.vault-token');
    token = () => {
      try {
        return readFileSync(home, 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    tokenSource = home;
  }
  const ssl = v?.ssl;
  const skipVerify =
    v?.tls_skip_verify ?? (ssl?.verify !== undefined ? !ssl.verify : parseBoolEnv(env('SKIP_VERIFY')));
  const retry = v?.retry;
  return {
    address: (v?.address ?? env('ADDR') ?? 'https://127.0.0.1:8200').replace(/\/+$/, ''),
    namespace: v?.namespace ?? env('NAMESPACE'),
    token,
    login,
    tokenSource,
    renewToken: !login && (v?.renew_token ?? !tokenFile),
    tls: {
      caCert: abs(v?.ca_cert ?? ssl?.ca_cert ?? env('CACERT')),
      caPath: abs(v?.ca_path ?? ssl?.ca_path ?? env('CAPATH')),
      clientCert: abs(v?.client_cert ?? ssl?.cert ?? env('CLIENT_CERT')),
      clientKey: abs(v?.client_key ?? ssl?.key ?? env('CLIENT_KEY')),
      serverName: v?.tls_server_name ?? ssl?.server_name ?? env('TLS_SERVER_NAME'),
      skipVerify,
    },
    retry: {
      attempts: retry?.enabled === false ? 0 : (retry?.attempts ?? 12),
      backoffMs: retry?.backoff ?? 250,
      maxBackoffMs: retry?.max_backoff ?? 60_000,
    },
    timeoutMs: v?.timeout ?? 30_000,
  };
}
