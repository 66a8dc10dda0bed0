/**
 * The Vault/OpenBao backend over node-vault (HTTP transport only). Retries, backoff
 * and token handling are ours: exponential backoff with full jitter on network errors,
 * 5xx and 429; never on other 4xx (a 403 is not going to fix itself by retrying).
 */
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { CertrenderError } from '../errors.js';
import type { Backend, RequestStats, TokenUpkeep } from '../issuer/backend.js';
import type { Logger } from '../observe/logger.js';
import type { VaultResponse } from '../template/vault-response.js';
import type { VaultLogin, VaultSettings } from './vault-settings.js';

const require = createRequire(import.meta.url);

interface NodeVaultClient {
  request(o: { path: string; method: string; json?: unknown; headers?: Record<string, string> }): Promise<any>;
}

function readCaPath(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(pem|crt)$/i.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

function readTlsFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CertrenderError('CR_CONFIG_READ', `cannot read the Vault ${what} ${path}: ${(e as NodeJS.ErrnoException).code}`, {
      hint: `check vault.${what} (or the matching VAULT_* variable)`,
      cause: e,
    });
  }
}

/** Exponential backoff with full jitter: random in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(opts: { attempt: number; baseMs: number; maxMs: number; random: () => number }): number {
  const cap = Math.min(opts.maxMs, opts.baseMs * 2 ** opts.attempt);
  return Math.round(cap * opts.random());
}

type Method = 'GET' | 'LIST' | 'PUT';

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new CertrenderError('CR_VAULT_AUTH', `cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code}`, {
      hint: 'check the auto_auth method config (or vault.auth) and the file\'s permissions',
      cause: e,
    });
  }
}

/**
 * The login request of a method, its credentials read once per process (the Agent also
 * keeps an approle secret_id in memory after deleting its file).
 */
function loginRequest(l: VaultLogin): () => { path: string; body: Record<string, string> } {
  if (l.method === 'kubernetes') {
    return () => ({ path: `auth/${l.mountPath}/login`, body: { role: l.role, jwt: l.jwt ?? readSecretFile(l.tokenPath, 'Kubernetes service account token') } });
  }
  let creds: { role_id: string; secret_id: string } | undefined;
  return () => {
    if (!creds) {
      creds = { role_id: readSecretFile(l.roleIdFile, 'approle role_id'), secret_id: readSecretFile(l.secretIdFile, 'approle secret_id') };
      if (l.removeSecretIdFile) unlinkSync(l.secretIdFile);
    }
    return { path: `auth/${l.mountPath}/login`, body: creds };
  };
}

function isRetryable(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 429;
}

export function createVaultBackend(opts: { settings: VaultSettings; logger: Logger; sleep?: (ms: number) => Promise<void> }): Backend {
  const s = opts.settings;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const agentOptions: Record<string, unknown> = { rejectUnauthorized: !s.tls.skipVerify };
  const ca = [
    ...(s.tls.caCert ? [readTlsFile(s.tls.caCert, 'ca_cert')] : []),
    ...(s.tls.caPath ? readCaPath(s.tls.caPath) : []),
  ];
  if (ca.length) agentOptions.ca = ca;
  if (s.tls.clientCert) agentOptions.cert = readTlsFile(s.tls.clientCert, 'client_cert');
  if (s.tls.clientKey) agentOptions.key = readTlsFile(s.tls.clientKey, 'client_key');
  if (s.tls.serverName) agentOptions.servername = s.tls.serverName;
  // Required here, not at the top: a run that makes no Vault call never loads node-vault.
  const nodeVault = require('node-vault') as (o: object) => NodeVaultClient;
  const client = nodeVault({
    endpoint: s.address,
    // node-vault reads VAULT_SKIP_VERIFY itself and treats any non-empty value as true:
    // override it with the value we parsed.
    rpDefaults: { strictSSL: !s.tls.skipVerify, timeout: s.timeoutMs },
    requestOptions: { agentOptions },
    namespace: s.namespace,
  });
  if (s.tls.skipVerify) opts.logger.warn('vault_tls_verify_disabled', { address: s.address });
  const counts: RequestStats = { reads: 0, writes: 0, errors: 0, errorsByStatus: {} };
  const countError = (status: string) => {
    counts.errors++;
    counts.errorsByStatus[status] = (counts.errorsByStatus[status] ?? 0) + 1;
  };
  const loginBody = s.login ? loginRequest(s.login) : undefined;
  /**
   * The login's token, cached for the process; cleared to log in again once after a 403,
   * and replaced before it expires: the daemon's timer (`token.renew`) at 2/3 of its TTL,
   * or any request made past that point, logs in first.
   */
  let loggedIn: Promise<{ token: string; refreshAt: number }> | undefined;
  /** The settled login, for the daemon's timer. */
  let current: { token: string; refreshAt: number } | undefined;

  async function login(): Promise<{ token: string; refreshAt: number }> {
    const req = loginBody!();
    const res = await call('PUT', req.path, req.body, { anonymous: true });
    const auth = (res as { auth?: { client_token?: unknown; lease_duration?: unknown } }).auth;
    const token = auth?.client_token;
    if (typeof token !== 'string' || !token) {
      throw new CertrenderError('CR_VAULT_RESPONSE', `the ${s.tokenSource} returned no auth.client_token`, { context: { path: req.path } });
    }
    const ttl = typeof auth?.lease_duration === 'number' && auth.lease_duration > 0 ? auth.lease_duration * 1000 : Infinity;
    opts.logger.info('vault_login', { method: s.login!.method, mount: s.login!.mountPath, ttl_seconds: ttl === Infinity ? undefined : ttl / 1000 });
    current = { token, refreshAt: Date.now() + (2 / 3) * ttl };
    return current;
  }

  async function loginToken(): Promise<string> {
    const pending = loggedIn;
    const current = pending ? await pending : undefined;
    // Concurrent requests share one login: only the first to see the stale token replaces it.
    if ((!current || Date.now() >= current.refreshAt) && loggedIn === pending) {
      if (current) opts.logger.info('vault_token_refresh', { method: s.login!.method });
      const next = login();
      loggedIn = next;
      next.catch(() => {
        if (loggedIn === next) loggedIn = undefined;
      });
    }
    return (await loggedIn!).token;
  }

  async function once(method: Method, path: string, body: Record<string, unknown> | undefined, anonymous: boolean): Promise<VaultResponse> {
    const token = anonymous ? undefined : loginBody ? await loginToken() : s.token();
    const headers: Record<string, string> = {};
    if (token) headers['X-Vault-Token'] = token;
    const res = await client.request({ path: `/${path}`, method, json: body, headers });
    return res as VaultResponse;
  }

  async function call(method: Method, path: string, body?: Record<string, unknown>, o: { anonymous?: boolean } = {}): Promise<VaultResponse> {
    let relogged = false;
    for (let attempt = 0; ; attempt++) {
      if (method !== 'PUT') counts.reads++;
      else counts.writes++;
      let r: VaultResponse;
      try {
        r = await once(method, path, body, o.anonymous === true);
      } catch (e) {
        // A CertrenderError here comes from a login's own request, already counted.
        if (e instanceof CertrenderError) throw e;
        const status: number | undefined = (e as any)?.response?.statusCode;
        const netCode: string | undefined = (e as any)?.code;
        countError(status === undefined ? 'network' : String(status));
        if (status === 403 && loginBody && !o.anonymous && !relogged) {
          // The cached login token may have expired or been revoked: log in again, once.
          relogged = true;
          loggedIn = undefined;
          opts.logger.warn('vault_relogin', { method, path });
          continue;
        }
        const reason = status !== undefined ? `HTTP ${status}: ${(e as Error).message}` : `${netCode ?? 'network error'}: ${(e as Error).message}`;
        if (isRetryable(status) && attempt < s.retry.attempts) {
          const delay = backoffDelay({ attempt, baseMs: s.retry.backoffMs, maxMs: s.retry.maxBackoffMs, random: Math.random });
          opts.logger.warn('vault_retry', { method, path, attempt: attempt + 1, of: s.retry.attempts, delay_ms: delay, reason });
          await sleep(delay);
          continue;
        }
        const where = `${method} ${s.address}/v1/${path}`;
        if (status === 403 || status === 401) {
          throw new CertrenderError('CR_VAULT_AUTH', `${where} was refused (${reason})`, {
            hint: `check the token (from ${s.tokenSource}) and that its policy grants "${{ GET: 'read', LIST: 'list', PUT: 'update' }[method]}" on ${path}`,
            context: { path, status },
            cause: e,
          });
        }
        if (status !== undefined) {
          throw new CertrenderError('CR_VAULT_HTTP', `${where} failed: ${reason}`, {
            hint: status === 400 ? 'the request was rejected: check the role and the parameters in the template' : 'see the Vault server log',
            context: { path, status },
            cause: e,
          });
        }
        throw new CertrenderError('CR_VAULT_NETWORK', `${where} failed after ${attempt + 1} attempt(s): ${reason}`, {
          hint: 'is Vault reachable at this address (VAULT_ADDR / vault.address), and is its TLS trusted (vault.ca_cert)?',
          context: { path },
          cause: e,
        });
      }
      if (r === undefined || r === null || typeof r !== 'object') {
        countError('bad_response');
        throw new CertrenderError('CR_VAULT_RESPONSE', `Vault returned an empty body for ${method} ${path}`, { context: { path } });
      }
      return r;
    }
  }

  /**
   * A given token's renewal (renew_token): lookup-self once to learn its TTL, then
   * renew-self at 2/3 of each lease. A renewal that grants less than the token's full TTL
   * (creation_ttl) has hit its max TTL: renewing again would only shorten the interval
   * towards expiry, so it is reported once and left to whoever issued the token.
   */
  let direct: { token: string; renewAt?: number; fullMs?: number } | undefined;
  const token: TokenUpkeep = {
    async nextAt() {
      if (loginBody) return current && Number.isFinite(current.refreshAt) ? new Date(current.refreshAt) : undefined;
      const t = s.renewToken ? s.token() : undefined;
      if (!t) return undefined;
      if (direct?.token !== t) {
        const d = (await call('GET', 'auth/token/lookup-self')).data as { ttl?: unknown; creation_ttl?: unknown; renewable?: unknown; expire_time?: unknown } | undefined;
        const ttlMs = typeof d?.ttl === 'number' ? d.ttl * 1000 : 0;
        direct = { token: t };
        if (ttlMs > 0 && d?.renewable !== true) opts.logger.warn('vault_token_not_renewable', { source: s.tokenSource, expires_at: String(d?.expire_time ?? '') });
        else if (ttlMs > 0) direct = { token: t, renewAt: Date.now() + (2 / 3) * ttlMs, fullMs: typeof d?.creation_ttl === 'number' ? d.creation_ttl * 1000 : ttlMs };
      }
      return direct.renewAt === undefined ? undefined : new Date(direct.renewAt);
    },
    async renew() {
      if (loginBody) {
        await loginToken();
        return;
      }
      const t = s.token();
      if (!t) return;
      const lease = ((await call('PUT', 'auth/token/renew-self', {})) as { auth?: { lease_duration?: unknown } }).auth?.lease_duration;
      const leaseMs = typeof lease === 'number' ? lease * 1000 : 0;
      opts.logger.info('vault_token_renewed', { source: s.tokenSource, ttl_seconds: leaseMs / 1000 });
      const fullMs = direct?.token === t ? direct.fullMs ?? leaseMs : leaseMs;
      if (leaseMs > 0 && leaseMs >= fullMs) {
        direct = { token: t, renewAt: Date.now() + (2 / 3) * leaseMs, fullMs };
        return;
      }
      direct = { token: t };
      if (leaseMs > 0) {
        opts.logger.warn('vault_token_expiring', { source: s.tokenSource, expires_at: new Date(Date.now() + leaseMs).toISOString(), reason: 'its max TTL is reached: renewals no longer extend it' });
      }
    },
  };

  return {
    kind: 'vault',
    token,
    read: (path) => call('GET', path),
    list: (path) => call('LIST', path),
    write: (path, body) => call('PUT', path, body),
    stats: () => ({ ...counts, errorsByStatus: { ...counts.errorsByStatus } }),
  };
}
