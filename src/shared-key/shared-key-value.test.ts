import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { generateKey } from '../issuer/key-gen.js';
import { initialValue, parseSharedKeyValue, promotePending, sharedKeyView, withPending, type SharedKeyType } from './shared-key-value.js';

const pem = (type: SharedKeyType) => generateKey(type).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const parse = (data: unknown, type: SharedKeyType = 'rsa-2048') => parseSharedKeyValue({ name: 'sa', path: 'secret/data/sa', type, version: 3, data });

test('a value written by certrender parses back to its material; the view serves PKCS#8, PKCS#1 and SPKI', () => {
  const active = pem('rsa-2048');
  const r = parse(initialValue({ type: 'rsa-2048', pem: active, created: '2030-01-01T00:00:00.000Z' }));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.material.version, 3);
  assert.is(r.material.pending, undefined);
  const v = sharedKeyView(r.material);
  assert.match(v.PrivateKey, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----$/);
  assert.match(v.PrivateKeyPKCS1, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.match(v.PublicKey, /^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/);
  assert.is(v.PublicKeys, v.PublicKey);
  const expected = createPublicKey(createPrivateKey(active)).export({ type: 'spki', format: 'pem' }).toString().trim();
  assert.is(v.PublicKey, expected, 'the public key is the private key\'s');
  assert.ok(createPrivateKey(v.PrivateKeyPKCS1).equals(createPrivateKey(active)));
});

test('pending: public keys hold active then pending, private key stays active; promote drops the old key', () => {
  const [a, b] = [pem('ec-p256'), pem('ec-p256')];
  const staged = withPending(initialValue({ type: 'ec-p256', pem: a, created: 't0' }), { pem: b, created: 't1' });
  const r = parse(staged, 'ec-p256');
  assert.ok(r.ok);
  if (!r.ok) return;
  const v = sharedKeyView(r.material);
  const pubOf = (k: string) => createPublicKey(createPrivateKey(k)).export({ type: 'spki', format: 'pem' }).toString().trim();
  assert.is(v.PublicKeys, `${pubOf(a)}\n${pubOf(b)}`);
  assert.ok(createPrivateKey(v.PrivateKey).equals(createPrivateKey(a)));
  assert.is.not(r.material.active.fingerprint, r.material.pending!.fingerprint);
  const promoted = parse(promotePending(staged), 'ec-p256');
  assert.ok(promoted.ok && createPrivateKey(sharedKeyView(promoted.material).PrivateKey).equals(createPrivateKey(b)));
  assert.ok(promoted.ok && promoted.material.pending === undefined && promoted.material.active.fingerprint === r.material.pending!.fingerprint);
});

test('PrivateKeyPKCS1 of a non-RSA key is a template error', () => {
  const r = parse(initialValue({ type: 'ed25519', pem: pem('ed25519'), created: 't' }), 'ed25519');
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.throws(() => sharedKeyView(r.material).PrivateKeyPKCS1, (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
});

test('garbage and keys of another type are refused, without quoting the material', () => {
  const ec = pem('ec-p256');
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    ['hello', /not an object/],
    [{ type: 'rsa-2048' }, /"active" has no "pem"/],
    [{ type: 'rsa-2048', active: { pem: 'not a key' } }, /active\.pem/],
    [{ type: 'rsa-2048', active: { pem: ec } }, /ec P-256 key, not rsa-2048/],
    [{ type: 'ec-p256', active: { pem: ec } }, /"type" is "ec-p256"/],
    [{ type: 'rsa-2048', active: { pem: pem('rsa-2048') }, pending: { pem: ec } }, /pending\.pem/],
    [{ type: 'rsa-4096', active: { pem: pem('rsa-2048') } }, /"type"/],
  ];
  for (const [data, re] of cases) {
    const r = parse(data);
    assert.is(r.ok, false, JSON.stringify(data)?.slice(0, 40));
    if (r.ok) continue;
    assert.match(r.problems.join('; '), re);
    assert.not.match(r.problems.join('; '), /BEGIN|MII/, 'no key material in problems');
  }
  const wrongSize = parse({ type: 'rsa-4096', active: { pem: pem('rsa-2048') } }, 'rsa-4096');
  assert.ok(!wrongSize.ok && /rsa-2048 key, not rsa-4096/.test(wrongSize.problems.join()));
});

test.run();
