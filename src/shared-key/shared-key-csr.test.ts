import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localCaSchema, type KeyType } from '../config/schema.js';
import { createLocalCaBackend } from '../issuer/local-ca-backend.js';
import { generateKey } from '../issuer/key-gen.js';
import { validateIssuance } from '../pki/validate.js';
import { requestedNames } from '../template/vault-call.js';
import { sharedKeyCsr } from './shared-key-csr.js';

for (const type of ['rsa-2048', 'ec-p256', 'ed25519'] as KeyType[]) {
  test(`local CA signs a ${type} shared-key CSR: the certificate is on that key, with the requested names`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-csr-'));
    try {
      const privatePem = generateKey(type).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const params = { common_name: 'kube-apiserver', alt_names: 'kubernetes,kubernetes.default', ip_sans: '10.0.0.1', ttl: '1h' };
      const csr = await sharedKeyCsr({ privatePem, params });
      assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
      const backend = createLocalCaBackend({ stateDir: dir, config: localCaSchema.parse({}), readOnly: false });
      const r = await backend.write('pki/sign/cp', { ...params, csr });
      const cert = new X509Certificate(r.data!.certificate);
      assert.ok(cert.publicKey.equals(createPublicKey(createPrivateKey(privatePem))), 'certificate on the shared key');
      const v = validateIssuance({ certificate: r.data!.certificate, privateKey: privatePem, chain: r.data!.ca_chain, anchors: [r.data!.issuing_ca], request: requestedNames(params), now: new Date() });
      assert.equal(v.ok ? [] : v.problems, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
