/**
 * Logging in (Vault Agent auto_auth approle and kubernetes, consul-template k8s_*) against
 * a real OpenBao: the token from the login is used for the request, cached for the
 * process, and a revoked token triggers one new login.
 *
 * The kubernetes method needs a Kubernetes API for TokenReview. A real Kubernetes API
 * cannot run here, so a tiny local HTTPS TokenReview server stands in for it: the one
 * fake in this test, and only on the Kubernetes side; OpenBao and its kubernetes auth
 * method are real.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { mintCa, mintLeaf } from './helpers/mint.js';
import { makeTempDir } from './helpers/tmp.js';
import { createVaultBackend } from '../src/vault/vault-backend.js';
import { resolveVaultSettings } from '../src/vault/vault-settings.js';
import { silentLogger } from '../src/observe/logger.js';
import type { VaultConfig } from '../src/config/schema.js';

const test = suite('vault login');
const ctx: { bao?: OpenBao; dir?: string; k8s?: Server; reviews: number } = { reviews: 0 };

const POLICY = 'path "pki/issue/server" { capabilities = ["update"] }\npath "pki/cert/ca" { capabilities = ["read"] }';

test.before(async () => {
  ctx.bao = await startOpenBao();
  ctx.dir = await makeTempDir('certrender-login');
  await setupPki(ctx.bao);
  await ctx.bao.api('PUT', 'sys/policies/acl/issue', { policy: POLICY });
});
test.after(async () => {
  ctx.k8s?.close();
  await ctx.bao?.stop();
});

function backend(vault: Partial<VaultConfig>) {
  const settings = resolveVaultSettings({ vault: { address: ctx.bao!.addr, timeout: 10_000, ...vault } as VaultConfig, env: {}, baseDir: ctx.dir! });
  return createVaultBackend({ settings, logger: silentLogger });
}

test('approle: role_id and secret_id files, token cached, one new login after a 403', async () => {
  const bao = ctx.bao!;
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.api('POST', 'auth/approle/role/certs', { token_policies: ['issue'], token_ttl: '1h' });
  const roleId = (await bao.api('GET', 'auth/approle/role/certs/role-id')).data.role_id;
  const secretId = (await bao.api('POST', 'auth/approle/role/certs/secret-id')).data.secret_id;
  const roleFile = join(ctx.dir!, 'role-id');
  const secretFile = join(ctx.dir!, 'secret-id');
  await writeFile(roleFile, `${roleId}\n`);
  await writeFile(secretFile, `${secretId}\n`);

  const b = backend({ auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id', remove_secret_id_file: true, token_path: '/unused' } });
  const r = await b.write('pki/issue/server', { common_name: 'approle.test' });
  assert.match(String(r.data?.certificate), /BEGIN CERTIFICATE/);
  assert.not.ok(existsSync(secretFile), 'the secret_id file is removed after reading (the Agent default)');
  const logins = async () => (await bao.api('LIST', 'auth/token/accessors')).data.keys.length;
  const before = await logins();
  await b.read('pki/cert/ca');
  assert.is(await logins(), before, 'the token is reused, no second login');

  // Revoke every approle token: the next call gets a 403, logs in again (secret_id from memory) and succeeds.
  let revoked = 0;
  for (const accessor of (await bao.api('LIST', 'auth/token/accessors')).data.keys) {
    const info = await bao.api('POST', 'auth/token/lookup-accessor', { accessor });
    if (!info.data.path.startsWith('auth/approle/')) continue;
    await bao.api('POST', 'auth/token/revoke-accessor', { accessor });
    revoked++;
  }
  assert.is(revoked, 1, 'one approle login so far');
  const again = await b.write('pki/issue/server', { common_name: 'approle2.test' });
  assert.match(String(again.data?.certificate), /BEGIN CERTIFICATE/);
});

test('approle: a token that expires mid-run is replaced before it does, without a failed request', async () => {
  const bao = ctx.bao!;
  await bao.api('POST', 'auth/approle/role/short', { token_policies: ['issue'], token_ttl: '3s', token_max_ttl: '3s' });
  const roleId = (await bao.api('GET', 'auth/approle/role/short/role-id')).data.role_id;
  const secretId = (await bao.api('POST', 'auth/approle/role/short/secret-id')).data.secret_id;
  await writeFile(join(ctx.dir!, 'short-role'), roleId);
  await writeFile(join(ctx.dir!, 'short-secret'), secretId);
  const events: string[] = [];
  const logger = { ...silentLogger, info: (e: string) => void events.push(e), warn: (e: string) => void events.push(e) };
  const settings = resolveVaultSettings({
    vault: { address: bao.addr, timeout: 10_000, auth: { method: 'approle', role_id_file: 'short-role', secret_id_file: 'short-secret', remove_secret_id_file: false, token_path: '/unused' } } as VaultConfig,
    env: {},
    baseDir: ctx.dir!,
  });
  const b = createVaultBackend({ settings, logger });
  await b.read('pki/cert/ca');
  await new Promise((r) => setTimeout(r, 2500)); // past 2/3 of the 3 s TTL, not yet expired
  await b.read('pki/cert/ca');
  assert.equal(events.filter((e) => e === 'vault_login').length, 2, 'logged in again before expiry');
  assert.ok(events.includes('vault_token_refresh'));
  assert.not.ok(events.includes('vault_relogin'), 'no 403 was needed');
  assert.is(b.stats().errors, 0);
});

test('token upkeep: a renewable token is planned at 2/3 of its TTL and renewed; root, non-renewable, token-file and max-TTL tokens are left alone, saying why', async () => {
  const bao = ctx.bao!;
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const logger = { ...silentLogger, info: (event: string, fields: Record<string, unknown>) => void events.push({ event, fields }), warn: (event: string, fields: Record<string, unknown>) => void events.push({ event, fields }) };
  const upkeep = (vault: Partial<VaultConfig>, env: NodeJS.ProcessEnv = {}) => {
    const settings = resolveVaultSettings({ vault: { address: bao.addr, timeout: 10_000, ...vault } as VaultConfig, env, baseDir: ctx.dir! });
    const b = createVaultBackend({ settings, logger });
    return { b, token: b.token! };
  };
  const create = async (body: Record<string, unknown>) => (await bao.api('POST', 'auth/token/create', { policies: ['issue'], ...body })).auth.client_token as string;
  const lookup = async (token: string) => (await bao.api('POST', 'auth/token/lookup', { token })).data;

  const renewable = await create({ ttl: '1h', renewable: true });
  const r = upkeep({}, { VAULT_TOKEN: renewable });
  const before = Date.now();
  const at = await r.token.nextAt();
  const after = Date.now();
  assert.ok(at, 'a renewable token gets a renewal point');
  // 2/3 of the TTL lookup-self reported (whole seconds: 3599 or 3600), counted from the answer.
  assert.ok(at!.getTime() >= before + (2 / 3) * 3_599_000 && at!.getTime() <= after + 2_400_000, `at 2/3 of one hour (${at!.getTime() - before} ms)`);
  assert.not.ok((await lookup(renewable)).last_renewal_time, 'never renewed yet');
  await r.token.renew();
  assert.ok((await lookup(renewable)).last_renewal_time > 0, 'renew-self reached OpenBao');
  assert.ok(events.some((e) => e.event === 'vault_token_renewed' && e.fields.ttl_seconds === 3600));
  assert.not.ok(JSON.stringify(events).includes(renewable), 'the token is never logged');

  const root = upkeep({ token: bao.token });
  assert.is(await root.token.nextAt(), undefined, 'a token without expiry needs no renewal');

  const fixed = upkeep({ token: await create({ ttl: '1h', renewable: false }) });
  assert.is(await fixed.token.nextAt(), undefined);
  assert.ok(events.some((e) => e.event === 'vault_token_not_renewable' && typeof e.fields.expires_at === 'string'), 'a non-renewable token with a TTL is reported');

  await writeFile(join(ctx.dir!, 'agent-token'), renewable);
  const file = upkeep({ vault_agent_token_file: 'agent-token' });
  assert.is(await file.token.nextAt(), undefined, 'a token file belongs to whoever writes it');
  assert.is(file.b.stats().reads, 0, 'not even looked up');

  const capped = upkeep({ token: await create({ ttl: '1h', explicit_max_ttl: '1h', renewable: true }) });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.ok(await capped.token.nextAt());
  await capped.token.renew();
  assert.is(await capped.token.nextAt(), undefined, 'renewals that no longer extend it stop');
  assert.ok(events.some((e) => e.event === 'vault_token_expiring'));
});

test('approle: a wrong secret_id is CR_VAULT_HTTP/AUTH, never echoing the secret', async () => {
  await writeFile(join(ctx.dir!, 'bad-secret'), 'not-the-secret-id-value');
  const b = backend({ auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'bad-secret', remove_secret_id_file: false, token_path: '/unused' } });
  try {
    await b.read('pki/cert/ca');
    assert.unreachable();
  } catch (e) {
    assert.ok(['CR_VAULT_HTTP', 'CR_VAULT_AUTH'].includes((e as { code: string }).code), String(e));
    assert.not.match(String((e as Error).message), /not-the-secret-id-value/);
  }
});

function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.${Buffer.from('unsigned-test-signature').toString('base64url')}`;
}

test('kubernetes: role and service account token, reviewed through TokenReview', async () => {
  const bao = ctx.bao!;
  const ca = await mintCa({ cn: 'test kubernetes CA' });
  const leaf = await mintLeaf({ cn: 'kubernetes', issuer: ca, dns: ['localhost'], ips: ['127.0.0.1'] });
  const sa = { namespace: 'default', name: 'web', uid: '5b2c1c1e-1111-4c1d-9a7e-000000000001' };
  const token = jwt({
    iss: 'kubernetes/serviceaccount',
    sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
    'kubernetes.io/serviceaccount/namespace': sa.namespace,
    'kubernetes.io/serviceaccount/service-account.name': sa.name,
    'kubernetes.io/serviceaccount/service-account.uid': sa.uid,
  });
  ctx.k8s = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      ctx.reviews++;
      const review = JSON.parse(body || '{}');
      const ok = req.url?.startsWith('/apis/authentication.k8s.io/v1/tokenreviews') && review.spec?.token === token;
      res.writeHead(201, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          status: ok
            ? { authenticated: true, user: { username: `system:serviceaccount:${sa.namespace}:${sa.name}`, uid: sa.uid, groups: ['system:serviceaccounts'] } }
            : { authenticated: false, error: 'invalid token' },
        }),
      );
    });
  });
  await new Promise<void>((r) => ctx.k8s!.listen(0, '127.0.0.1', r));
  const port = (ctx.k8s.address() as { port: number }).port;

  await bao.api('POST', 'sys/auth/k8s-test', { type: 'kubernetes' });
  await bao.api('POST', 'auth/k8s-test/config', { kubernetes_host: `https://127.0.0.1:${port}`, kubernetes_ca_cert: ca.certPem, disable_local_ca_jwt: true });
  await bao.api('POST', 'auth/k8s-test/role/web', { bound_service_account_names: [sa.name], bound_service_account_namespaces: [sa.namespace], token_policies: ['issue'] });
  const tokenFile = join(ctx.dir!, 'sa-token');
  await writeFile(tokenFile, token);

  const b = backend({ auth: { method: 'kubernetes', mount_path: 'k8s-test', role: 'web', token_path: tokenFile, remove_secret_id_file: true } });
  const r = await b.write('pki/issue/server', { common_name: 'k8s.test' });
  assert.match(String(r.data?.certificate), /BEGIN CERTIFICATE/);
  assert.ok(ctx.reviews >= 1, 'OpenBao asked the TokenReview endpoint');
});

test.run();
