/**
 * The Vault backend's transport policy against a real OpenBao, through a small
 * fault-injecting HTTP proxy: retries with backoff on 5xx and network errors, never on
 * 4xx; TLS settings parsed by us (VAULT_SKIP_VERIFY is a boolean).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, request, type Server } from 'node:http';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { createVaultBackend } from '../src/vault/vault-backend.js';
import { parseBoolEnv, resolveVaultSettings } from '../src/vault/vault-settings.js';
import { silentLogger } from '../src/observe/logger.js';

const test = suite('vault backend');
const ctx: { bao?: OpenBao; proxy?: Server; port?: number; fail: number; seen: number } = { fail: 0, seen: 0 };

test.before(async () => {
  ctx.bao = await startOpenBao();
  await setupPki(ctx.bao);
  const target = new URL(ctx.bao.addr);
  ctx.proxy = createServer((req, res) => {
    ctx.seen++;
    if (ctx.fail > 0) {
      ctx.fail--;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":["Vault is sealed"]}');
      return;
    }
    const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => ctx.proxy!.listen(0, '127.0.0.1', r));
  ctx.port = (ctx.proxy.address() as { port: number }).port;
});
test.after(async () => {
  ctx.proxy?.close();
  await ctx.bao?.stop();
});

function backend(token: string, attempts = 4) {
  const settings = resolveVaultSettings({
    vault: { address: `http://127.0.0.1:${ctx.port}`, token, retry: { enabled: true, attempts, backoff: 1, max_backoff: 5 }, timeout: 5000 },
    env: {},
    baseDir: '/',
  });
  return createVaultBackend({ settings, logger: silentLogger });
}

test('5xx is retried until it succeeds', async () => {
  ctx.fail = 2;
  ctx.seen = 0;
  const b = backend(ctx.bao!.token);
  const r = await b.write('pki/issue/server', { common_name: 'a.test' });
  assert.match(String(r.data?.certificate), /BEGIN CERTIFICATE/);
  assert.is(ctx.seen, 3, 'two failures then success');
  assert.equal(b.stats(), { reads: 0, writes: 3, errors: 2, errorsByStatus: { '503': 2 } }, 'each attempt counted, failures by status');
});

test('5xx beyond the attempts is CR_VAULT_HTTP', async () => {
  ctx.fail = 10;
  ctx.seen = 0;
  try {
    await backend(ctx.bao!.token, 2).read('pki/cert/ca');
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_VAULT_HTTP');
    assert.is(ctx.seen, 3, 'first try + 2 retries');
  } finally {
    ctx.fail = 0;
  }
});

test('403 is not retried and names the token source, never the token', async () => {
  ctx.seen = 0;
  const b403 = backend('not-a-real-token-value');
  try {
    await b403.write('pki/issue/server', { common_name: 'a.test' });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_VAULT_AUTH');
    assert.equal(b403.stats().errorsByStatus, { '403': 1 });
    assert.is(ctx.seen, 1);
    assert.not.ok(JSON.stringify({ m: (e as Error).message, h: (e as { hint?: string }).hint }).includes('not-a-real-token-value'));
  }
});

test('400 (bad request) is not retried', async () => {
  ctx.seen = 0;
  try {
    await backend(ctx.bao!.token).write('pki/issue/no-such-role', { common_name: 'a.test' });
    assert.unreachable();
  } catch (e) {
    assert.ok(['CR_VAULT_HTTP'].includes((e as { code: string }).code));
    assert.is(ctx.seen, 1);
  }
});

test('connection refused is retried then CR_VAULT_NETWORK', async () => {
  const settings = resolveVaultSettings({
    vault: { address: 'http://127.0.0.1:9', token: 't', retry: { enabled: true, attempts: 2, backoff: 1, max_backoff: 2 }, timeout: 2000 },
    env: {},
    baseDir: '/',
  });
  let slept = 0;
  const b = createVaultBackend({ settings, logger: silentLogger, sleep: async () => void slept++ });
  try {
    await b.read('pki/cert/ca');
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_VAULT_NETWORK');
    assert.is(slept, 2);
    assert.equal(b.stats().errorsByStatus, { network: 3 });
  }
});

test('settings: config over VAULT_* over BAO_*; VAULT_SKIP_VERIFY is a boolean', () => {
  const s = resolveVaultSettings({ vault: undefined, env: { BAO_ADDR: 'https://bao:8200/', BAO_TOKEN: 'b', VAULT_SKIP_VERIFY: 'false' }, baseDir: '/' });
  assert.is(s.address, 'https://bao:8200');
  assert.is(s.token(), 'b');
  assert.is(s.tokenSource, 'BAO_TOKEN');
  assert.is(s.tls.skipVerify, false, '"false" means verify (node-vault alone would skip)');
  const v = resolveVaultSettings({ vault: { address: 'https://cfg', timeout: 1 }, env: { VAULT_ADDR: 'https://env', VAULT_TOKEN: 'v', BAO_TOKEN: 'b', VAULT_SKIP_VERIFY: '1' }, baseDir: '/' });
  assert.is(v.address, 'https://cfg');
  assert.is(v.token(), 'v');
  assert.is(v.tls.skipVerify, true);
  for (const [raw, want] of [['', false], ['0', false], ['FALSE', false], ['true', true], ['1', true]] as const) assert.is(parseBoolEnv(raw), want, raw);
  assert.throws(() => parseBoolEnv('maybe'));
});

test.run();
