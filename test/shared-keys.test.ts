/**
 * Shared keys (issue 6) against a real OpenBao, with real certrender processes as the
 * "masters": the check-and-set race, bare key pairs, staged rotation, garbage at the
 * KV path, the example policy; and examples/shared-keys on the local CA.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, logEvents, runCli, startCli, type CliResult } from './helpers/cli.js';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { makeTempDir } from './helpers/tmp.js';
import { loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/observe/logger.js';
import { rotateSharedKey } from '../src/shared-key/rotate-shared-key.js';

let bao: OpenBao;
let ca: X509Certificate;

test.before(async () => {
  bao = await startOpenBao();
  ca = new X509Certificate((await setupPki(bao, { role: 'control-plane' })).caPem);
});
test.after(async () => bao?.stop());

const TEMPLATES = join(ROOT, 'examples/shared-keys/templates');

/** One "master": its own config, state and output directories, the example's templates. */
async function makeHost(prefix: string): Promise<string> {
  const dir = await makeTempDir('cr-master');
  cpSync(TEMPLATES, join(dir, 'templates'), { recursive: true });
  const tpl = (name: string, dest: string) => `template {\n  source = "templates/${name}"\n  destination = "out/${dest}"\n}\n`;
  writeFileSync(
    join(dir, 'certrender.hcl'),
    `state_dir = "state"\n` +
      `shared_key "service-account" {\n  kv_path = "secret/data/${prefix}/service-account"\n  type = "rsa-2048"\n}\n` +
      `shared_key "apiserver" {\n  kv_path = "secret/data/${prefix}/apiserver"\n  type = "rsa-2048"\n}\n` +
      tpl('sa.key.njk', 'sa.key') + tpl('sa.pub.njk', 'sa.pub') + tpl('apiserver.crt.tpl', 'apiserver.crt') + tpl('apiserver.key.tpl', 'apiserver.key'),
  );
  return dir;
}

const once = (dir: string, env: Record<string, string>) => runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: { ...bao.env, ...env } });
const out = (dir: string, file: string) => readFileSync(join(dir, 'out', file), 'utf8');
const spki = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'pem' }).toString().trim();
const cert = (dir: string) => new X509Certificate(out(dir, 'apiserver.crt'));

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Three masters against an empty KV path, held right before their check-and-set writes and released together. */
async function race(prefix: string, ips: string[]): Promise<{ hosts: string[]; results: CliResult[] }> {
  const hosts = await Promise.all(ips.map(() => makeHost(prefix)));
  const barrier = await makeTempDir('cr-barrier');
  const runs = hosts.map((dir, i) =>
    startCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: { ...bao.env, CP_HOST_IP: ips[i], CERTRENDER_TEST_SHARED_KEY_BARRIER: barrier } }),
  );
  const held = () => readdirSync(barrier).filter((f) => f.endsWith('.ready') && readFileSync(join(barrier, f), 'utf8').split('\n').filter(Boolean).length === 2);
  await until(() => held().length === hosts.length || runs.some((r) => r.child.exitCode !== null), 'every master at the barrier (both keys)');
  writeFileSync(join(barrier, 'go'), '');
  return { hosts, results: await Promise.all(runs.map((r) => r.done)) };
}

let lastRace: { hosts: string[]; ips: string[] } | undefined;

test('three masters racing for an empty KV path end with one key; each gets its own certificate on it (10 rounds)', async () => {
  let lost = 0;
  for (let round = 1; round <= 10; round++) {
    const ips = [1, 2, 3].map((i) => `10.0.${round}.${i}`);
    const { hosts, results } = await race(`race-${round}`, ips);
    results.forEach((r, i) => assert.is(r.code, 0, `round ${round} host ${i}: ${r.stderr}`));
    const events = results.flatMap((r) => logEvents(r.stderr));
    // Both keys of every host were held at the barrier: exactly one write wins per key, the others lose.
    assert.is(events.filter((e) => e.event === 'shared_key_created').length, 2, `round ${round}: one creation per key`);
    assert.is(events.filter((e) => e.event === 'shared_key_cas_lost').length, 4, `round ${round}: two losers per key`);
    lost += events.filter((e) => e.event === 'shared_key_cas_lost').length;

    const saKey = out(hosts[0], 'sa.key');
    const apiKey = out(hosts[0], 'apiserver.key');
    assert.is.not(saKey, apiKey, 'two shared keys, two keys');
    for (const [i, dir] of hosts.entries()) {
      assert.is(out(dir, 'sa.key'), saKey, `host ${i}: same service-account key`);
      assert.is(out(dir, 'sa.pub'), out(hosts[0], 'sa.pub'), `host ${i}: same service-account public key`);
      assert.is(out(dir, 'sa.pub').trim(), spki(saKey), 'sa.pub is the public half of sa.key');
      assert.is(out(dir, 'apiserver.key'), apiKey, `host ${i}: same API server key`);
      const c = cert(dir);
      assert.ok(c.checkPrivateKey(createPrivateKey(apiKey)), `host ${i}: certificate on the shared key`);
      assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey), `host ${i}: chains to the CA`);
      assert.match(c.subjectAltName ?? '', new RegExp(`IP Address:${ips[i].replaceAll('.', '\\.')}(,|$)`), `host ${i}: its own IP SAN`);
      for (const other of ips.filter((ip) => ip !== ips[i])) assert.not.ok(c.subjectAltName?.includes(`IP Address:${other},`) || c.subjectAltName?.endsWith(`IP Address:${other}`));
      const keyBody = saKey.split('\n')[1];
      assert.not.ok(results[i].stderr.includes(keyBody) || results[i].stdout.includes(keyBody), 'the key is never logged');
    }
    assert.is(new Set(hosts.map((d) => cert(d).serialNumber)).size, 3, 'three certificates');
    lastRace = { hosts, ips };
  }
  assert.is(lost, 40, 'the losing path was taken in every round');
});

test('rotation is staged: public keys first, private key and certificates after --activate', async () => {
  const { hosts, ips } = lastRace!;
  const env = (i: number) => ({ CP_HOST_IP: ips[i] });
  const oldSa = out(hosts[0], 'sa.key');
  const oldApi = out(hosts[0], 'apiserver.key');
  const oldSerials = hosts.map((d) => cert(d).serialNumber);
  const loaded = await loadConfig({ paths: [join(hosts[0], 'certrender.hcl')], cwd: hosts[0], env: bao.env });
  const rotate = (name: string, activate: boolean) =>
    rotateSharedKey({ loaded, stateDir: join(hosts[0], 'state'), name, activate, env: bao.env, logger: createLogger({ level: 'silent' }), now: () => new Date() });

  await rotate('service-account', false);
  await rotate('apiserver', false);
  for (const [i, dir] of hosts.entries()) {
    const r = await once(dir, env(i));
    assert.is(r.code, 0, r.stderr);
    const pubs = out(dir, 'sa.pub').match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    assert.is(pubs.length, 2, `host ${i}: sa.pub holds the active and the pending key`);
    assert.is(pubs[0], spki(oldSa), 'the active key first');
    assert.is(out(dir, 'sa.key'), oldSa, `host ${i}: the private key is still the old one`);
    assert.is(out(dir, 'apiserver.key'), oldApi);
    assert.is(cert(dir).serialNumber, oldSerials[i], `host ${i}: the certificate is reused, still on the old key`);
  }
  const pending = out(hosts[0], 'sa.pub').match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g)![1];

  await rotate('service-account', true);
  await rotate('apiserver', true);
  for (const [i, dir] of hosts.entries()) {
    const r = await once(dir, env(i));
    assert.is(r.code, 0, r.stderr);
    const saKey = out(dir, 'sa.key');
    assert.is.not(saKey, oldSa, `host ${i}: the new private key after --activate`);
    assert.is(spki(saKey), pending, 'it is the key that was pending');
    assert.is(out(dir, 'sa.pub').trim(), pending, 'only the new public key remains');
    const c = cert(dir);
    assert.is.not(c.serialNumber, oldSerials[i], 'a new certificate: the key fingerprint is part of the request, no --force-renew needed');
    assert.ok(c.checkPrivateKey(createPrivateKey(out(dir, 'apiserver.key'))) && out(dir, 'apiserver.key') !== oldApi);
    assert.ok(c.verify(ca.publicKey));
    assert.ok(logEvents(r.stderr).some((e) => e.event === 'issuance_issued'));
  }
  assert.is(out(hosts[1], 'sa.key'), out(hosts[0], 'sa.key'));
});

test('garbage at the KV path: an error naming the path, nothing written on any host', async () => {
  const path = 'secret/data/garbage/service-account';
  await bao.api('POST', path, { data: { type: 'rsa-2048', active: { pem: 'not a key', created: 'yesterday' } } });
  const hosts = [await makeHost('garbage'), await makeHost('garbage')];
  for (const [i, dir] of hosts.entries()) {
    const r = await once(dir, { CP_HOST_IP: `10.1.0.${i + 1}` });
    assert.is(r.code, 1, r.stderr);
    assert.ok(r.stdout.includes(path) || r.stderr.includes(path), 'the error names the path');
    assert.ok(logEvents(r.stderr).some((e) => e.event === 'vault_call_failed' && JSON.stringify(e).includes(path)));
    assert.not.ok(existsSync(join(dir, 'out/sa.key')) || existsSync(join(dir, 'out/sa.pub')), `host ${i}: the groups using the key are not written`);
  }
  const meta = await bao.api('GET', 'secret/metadata/garbage/service-account');
  assert.is(meta.data.current_version, 1, 'nothing written over the garbage');
});

test('examples/shared-keys/policy.hcl is enough; a token without "create" is told so', async () => {
  await bao.api('PUT', 'sys/policies/acl/control-plane', { policy: readFileSync(join(ROOT, 'examples/shared-keys/policy.hcl'), 'utf8') });
  const token = (await bao.api('POST', 'auth/token/create', { policies: ['control-plane'], no_default_policy: true })).auth.client_token;
  const dir = await makeHost('control-plane');
  const ok = await once(dir, { CP_HOST_IP: '10.2.0.1', VAULT_TOKEN: token, BAO_TOKEN: token });
  assert.is(ok.code, 0, ok.stderr);
  assert.ok(cert(dir).checkPrivateKey(createPrivateKey(out(dir, 'apiserver.key'))));

  await bao.api('PUT', 'sys/policies/acl/read-only', {
    policy: 'path "secret/data/denied/*" { capabilities = ["read"] }\npath "pki/sign/control-plane" { capabilities = ["update"] }\npath "pki/cert/ca" { capabilities = ["read"] }\n',
  });
  const weak = (await bao.api('POST', 'auth/token/create', { policies: ['read-only'], no_default_policy: true })).auth.client_token;
  const denied = await makeHost('denied');
  const r = await once(denied, { CP_HOST_IP: '10.2.0.2', VAULT_TOKEN: weak, BAO_TOKEN: weak });
  assert.is(r.code, 1);
  assert.match(r.stdout + r.stderr, /lacks the \\?"create\\?" capability/);
  assert.ok((r.stdout + r.stderr).includes('secret/data/denied/service-account'));
  assert.not.ok(existsSync(join(denied, 'out')), 'nothing written');
});

test('examples/shared-keys runs on the local CA, and rotates there too', async () => {
  const dir = await makeTempDir('cr-shared-example');
  cpSync(join(ROOT, 'examples/shared-keys'), join(dir, 'examples/shared-keys'), { recursive: true, filter: (src) => !/\/(out|state)(\/|$)/.test(src) });
  const config = 'examples/shared-keys/certrender.hcl';
  const run = () => runCli(['once', '--config', config], { cwd: dir, env: { CP_HOST_IP: '10.9.8.7' } });
  const first = await run();
  assert.is(first.code, 0, first.stderr);
  const o = (f: string) => readFileSync(join(dir, 'examples/shared-keys/out', f), 'utf8');
  const localCa = new X509Certificate(o('ca.pem'));
  const c = new X509Certificate(o('apiserver.crt'));
  assert.ok(c.checkPrivateKey(createPrivateKey(o('apiserver.key'))) && c.verify(localCa.publicKey));
  assert.match(c.subjectAltName ?? '', /IP Address:10\.9\.8\.7/);
  assert.is(o('sa.pub').trim(), spki(o('sa.key')));
  const loaded = await loadConfig({ paths: [join(dir, config)], cwd: dir, env: {} });
  const staged = await rotateSharedKey({ loaded, stateDir: join(dir, 'examples/shared-keys/state'), name: 'service-account', activate: false, env: {}, logger: createLogger({ level: 'silent' }), now: () => new Date() });
  assert.is(staged.action, 'pending_added');
  const second = await run();
  assert.is(second.code, 0, second.stderr);
  assert.is((o('sa.pub').match(/BEGIN PUBLIC KEY/g) ?? []).length, 2);
});

test.run();
