import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localCaSchema } from '../config/schema.js';
import { createLocalCaBackend } from './local-ca-backend.js';
import { loadX509 } from './x509-lib.js';

const dirs: string[] = [];
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cr-local-'));
  dirs.push(d);
  return d;
};
const config = localCaSchema.parse({ ttl: '2h', max_ttl: '24h' });
const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e) => (e as { code: string }).code);

test('issue answers with Vault\'s shapes: cert, issuing_ca, ca_chain list, SEC1 key, serial', async () => {
  const dir = stateDir();
  const b = createLocalCaBackend({ stateDir: dir, config, readOnly: false });
  const r = await b.write('pki_k8s/issue/kubernetes', { common_name: 'api', alt_names: 'kubernetes,kubernetes.default', ip_sans: '10.0.0.1', ttl: '1h' });
  const d = r.data!;
  const cert = new X509Certificate(d.certificate);
  const ca = new X509Certificate(d.issuing_ca);
  assert.ok(cert.verify(ca.publicKey));
  assert.equal(d.ca_chain, [d.issuing_ca]);
  assert.match(d.private_key, /^-----BEGIN EC PRIVATE KEY-----/);
  assert.is(d.private_key_type, 'ec');
  assert.ok(cert.checkPrivateKey(createPrivateKey(d.private_key)));
  assert.match(d.serial_number, /^([0-9a-f]{2}:)+[0-9a-f]{2}$/);
  assert.is(d.expiration, Math.floor(new Date(cert.validTo).getTime() / 1000));
  assert.match(cert.subjectAltName!, /DNS:api, DNS:kubernetes, DNS:kubernetes.default, IP Address:10.0.0.1/);
  assert.is(statSync(join(dir, 'local-ca/pki_k8s/ca-key.pem')).mode & 0o777, 0o600);
  // the mount's CA is stable across backends on the same state dir
  const again = createLocalCaBackend({ stateDir: dir, config, readOnly: false });
  assert.is((await again.read('pki_k8s/cert/ca')).data!.certificate, d.issuing_ca);
  assert.is((await again.read('pki_k8s/cert/ca_chain')).data!.ca_chain, d.issuing_ca + '\n', 'ca_chain read is one string');
});

test('RSA on request, TTL capped by max_ttl with a warning, exclude_cn_from_sans', async () => {
  const b = createLocalCaBackend({ stateDir: stateDir(), config, readOnly: false });
  const r = await b.write('pki/issue/x', { common_name: 'n', key_type: 'rsa', key_bits: '2048', ttl: '100h', exclude_cn_from_sans: 'true', alt_names: 'other' });
  assert.match(r.data!.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.ok(r.warnings!.length === 1);
  const cert = new X509Certificate(r.data!.certificate);
  assert.ok(new Date(cert.validTo).getTime() - Date.now() <= 24 * 3600_000 + 60_000);
  assert.is(cert.subjectAltName, 'DNS:other');
});

test('sign: a CSR\'s key, names from the request and the CSR, no private_key in the answer', async () => {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=from-csr', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  const b = createLocalCaBackend({ stateDir: stateDir(), config, readOnly: false });
  const r = await b.write('pki/sign/x', { csr: csr.toString('pem'), alt_names: 'extra' });
  const cert = new X509Certificate(r.data!.certificate);
  assert.is(r.data!.private_key, undefined);
  assert.match(cert.subject, /CN=from-csr/);
  assert.match(cert.subjectAltName!, /DNS:extra/);
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
  assert.ok(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki));
});

test('KV v2 with check-and-set', async () => {
  const b = createLocalCaBackend({ stateDir: stateDir(), config, readOnly: false });
  assert.is(await codeOf(b.read('secret/data/app')), 'CR_VAULT_HTTP');
  assert.is((await b.write('secret/data/app', { data: { k: 'v1' }, options: { cas: 0 } })).data!.version, 1);
  assert.is(await codeOf(b.write('secret/data/app', { data: { k: 'lost' }, options: { cas: 0 } })), 'CR_KV_CAS');
  assert.is((await b.write('secret/data/app', { data: { k: 'v2' }, options: { cas: 1 } })).data!.version, 2);
  const r = await b.read('secret/data/app');
  assert.equal(r.data!.data, { k: 'v2' });
  assert.is(r.data!.metadata.version, 2);
});

test('read-only (plan): creates no CA and refuses writes; any other path is an error naming it', async () => {
  const dir = stateDir();
  const ro = createLocalCaBackend({ stateDir: dir, config, readOnly: true });
  assert.is(await codeOf(ro.read('pki/cert/ca')), 'CR_LOCAL_CA');
  assert.not.ok(existsSync(join(dir, 'local-ca')));
  assert.is(await codeOf(ro.write('pki/issue/x', { common_name: 'a' })), 'CR_INTERNAL');
  const rw = createLocalCaBackend({ stateDir: dir, config, readOnly: false });
  try {
    await rw.read('sys/mounts');
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_LOCAL_UNSUPPORTED_PATH');
    assert.match((e as Error).message, /sys\/mounts/);
  }
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.run();
