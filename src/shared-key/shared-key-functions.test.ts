/** The template functions sharedKey / sharedKeyCert (runtime.ts, vault-call.ts) in both engines. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKey } from '../issuer/key-gen.js';
import { loadEngine, type EngineName } from '../template/engine.js';
import { createRuntime } from '../template/runtime.js';
import { callId, makeSharedKeyCall, makeSharedKeyCertCall, type VaultCall } from '../template/vault-call.js';
import type { VaultResponse } from '../template/vault-response.js';
import { initialValue, parseSharedKeyValue, type SharedKeyMaterial } from './shared-key-value.js';

function material(type: 'rsa-2048' | 'ec-p256'): SharedKeyMaterial {
  const pem = generateKey(type).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const r = parseSharedKeyValue({ name: 'api', path: 'secret/data/api', type, version: 1, data: initialValue({ type, pem, created: 't' }) });
  if (!r.ok) throw new Error(r.problems.join());
  return r.material;
}

async function render(engine: EngineName, text: string, responses: Map<string, VaultResponse>) {
  const calls: [VaultCall, boolean][] = [];
  const compiled = (await loadEngine(engine)).compile({ text, name: 't', errorOnMissingKey: false });
  const rt = createRuntime({ resolver: { lookup: (c) => responses.get(callId(c)) }, onCall: (c, known) => calls.push([c, known]), baseDir: '/', env: {} });
  return { out: compiled.render(rt), calls };
}

const TEXT: Record<EngineName, string> = {
  go: '{{ (sharedKey "api").PublicKey }}|{{ with sharedKeyCert "api" "pki/sign/cp" "common_name=a" "ip_sans=10.0.0.1" }}{{ .Cert }}|{{ .Key }}|{{ .Data.CA }}{{ end }}',
  nunjucks: '{{ sharedKey("api").PublicKey }}|{% set c = sharedKeyCert("api", "pki/sign/cp", "common_name=a", "ip_sans=10.0.0.1") %}{{ c.Cert }}|{{ c.Key }}|{{ c.Data.CA }}',
};

for (const engine of ['go', 'nunjucks'] as EngineName[]) {
  test(`${engine}: the key is discovered first, then the sign call identified by the key's fingerprint`, async () => {
    const m = material('rsa-2048');
    const responses = new Map<string, VaultResponse>();
    const first = await render(engine, TEXT[engine], responses);
    assert.equal(first.calls.map(([c, known]) => [c.kind, c.path, known]), [['shared_key', 'api', false], ['shared_key', 'api', false]], 'no sign call before the key is known');
    responses.set(callId(makeSharedKeyCall('api')), { data: m });
    const second = await render(engine, TEXT[engine], responses);
    const sign = second.calls.find(([c]) => c.kind === 'write')![0];
    assert.equal(sign.sharedKey, { name: 'api', fingerprint: m.active.fingerprint });
    assert.equal(sign.params, { common_name: 'a', ip_sans: '10.0.0.1' });
    responses.set(callId(sign), { data: { certificate: 'CERT', issuing_ca: 'CA', ca_chain: ['CA'] } });
    const final = await render(engine, TEXT[engine], responses);
    assert.is(final.out, `${m.active.publicPem}|CERT\n|${m.active.privatePem}\n|CA\n`, '.Key is the shared private key');
  });
}

test('call identity: name + fingerprint + path + params; a new active key is a new request; issue paths are refused', () => {
  const id = (fingerprint: string, args: unknown[]) => callId(makeSharedKeyCertCall({ name: 'api', fingerprint, path: 'pki/sign/cp', args }));
  assert.is(id('AA', ['ttl=1h', 'common_name=a']), id('AA', ['common_name=a', 'ttl=1h']));
  assert.is.not(id('AA', ['common_name=a']), id('BB', ['common_name=a']));
  assert.is.not(id('AA', ['common_name=a']), callId({ kind: 'write', path: 'pki/sign/cp', params: { common_name: 'a' } }), 'differs from the same plain write');
  assert.throws(() => makeSharedKeyCertCall({ name: 'api', fingerprint: 'AA', path: 'pki/issue/cp', args: [] }), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
  assert.throws(() => makeSharedKeyCall(''), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
});

test('PrivateKeyPKCS1 of an EC shared key fails the render with a template error', async () => {
  const responses = new Map<string, VaultResponse>([[callId(makeSharedKeyCall('api')), { data: material('ec-p256') }]]);
  for (const [engine, text] of [['go', '{{ (sharedKey "api").PrivateKeyPKCS1 }}'], ['nunjucks', '{{ sharedKey("api").PrivateKeyPKCS1 }}']] as const) {
    const err = await render(engine, text, responses).catch((e) => e);
    assert.instance(err, Error, engine);
    assert.match(err.message, /PrivateKeyPKCS1 exists for RSA keys only/, engine);
  }
});

test.run();
