/**
 * x509Facts against @peculiar/x509 as the oracle, over certificates minted here with
 * the shapes that matter: escaped and multi-valued names, string types, IPv6 SANs,
 * GeneralizedTime dates, path lengths, key usage with and without keyCertSign. Then a
 * fixed-seed mutation fuzz: a damaged DER must give facts or an Error, nothing else.
 */
import 'reflect-metadata';
import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { x509Facts } from './x509-facts.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;

type NameInput = string | x509.JsonName;

async function mint(opts: { subject: NameInput; issuer?: NameInput; notAfter?: Date; extensions?: x509.Extension[] }): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: '0badc0de',
    subject: opts.subject,
    issuer: opts.issuer ?? opts.subject,
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: opts.notAfter ?? new Date('2027-01-01T00:00:00Z'),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: opts.extensions ?? [],
  });
}

function oracle(cert: x509.X509Certificate) {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const sans = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    commonName: cert.subjectName.getField('CN')[0],
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    ca: bc?.ca ?? false,
    pathLength: bc?.pathLength,
    keyCertSign: !ku || (ku.usages & x509.KeyUsageFlags.keyCertSign) !== 0,
    dnsNames: sans.filter((n) => n.type === 'dns').map((n) => n.value),
  };
}

function ours(cert: x509.X509Certificate) {
  const f = x509Facts(new Uint8Array(cert.rawData));
  const { ipAddresses: _ip, spki: _spki, ...rest } = f;
  return { ...rest, notBefore: f.notBefore.toISOString(), notAfter: f.notAfter.toISOString() };
}

const san = (items: x509.JsonGeneralName[]) => new x509.SubjectAlternativeNameExtension(items);

const CASES: Array<[string, Parameters<typeof mint>[0]]> = [
  ['plain CN', { subject: 'CN=kube-apiserver' }],
  ['no extensions, several RDNs, issuer differs', { subject: 'CN=leaf, O=Example Org, OU=Ops, C=DE, L=Berlin, ST=BE', issuer: 'CN=Example CA, O=Example Org' }],
  ['multi-valued RDN', { subject: 'CN=a+OU=b, O=c' }],
  ['characters RFC 4514 escapes', { subject: [{ CN: [{ utf8String: 'a, b+c "d" <e>;f\\g' }] }, { O: [{ utf8String: ' leading and trailing ' }] }] }],
  ['leading hash and a newline', { subject: [{ CN: [{ utf8String: '#x\ny' }] }] }],
  ['non-ASCII UTF8String', { subject: [{ CN: [{ utf8String: 'Zürich Straße ✓' }] }] }],
  ['PrintableString and IA5String', { subject: [{ CN: [{ printableString: 'print' }] }, { E: [{ ia5String: 'ops@example.com' }] }, { DC: [{ ia5String: 'example' }] }] }],
  ['BMPString', { subject: [{ CN: [{ bmpString: 'bmp ü' }] }] }],
  ['unknown attribute type', { subject: [{ '1.2.3.4.5': [{ utf8String: 'x' }] }, { CN: [{ utf8String: 'y' }] }] }],
  ['two CNs: the first counts', { subject: 'CN=first, CN=second' }],
  ['no CN', { subject: 'O=only-org' }],
  ['GeneralizedTime after 2049', { subject: 'CN=far', notAfter: new Date('2061-06-15T12:34:56Z') }],
  ['CA with pathLen 0', { subject: 'CN=ca', extensions: [new x509.BasicConstraintsExtension(true, 0, true)] }],
  ['CA with pathLen 3', { subject: 'CN=ca', extensions: [new x509.BasicConstraintsExtension(true, 3, true)] }],
  ['CA without pathLen', { subject: 'CN=ca', extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] }],
  ['basicConstraints cA false', { subject: 'CN=leaf', extensions: [new x509.BasicConstraintsExtension(false)] }],
  ['keyUsage with keyCertSign', { subject: 'CN=ca', extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)] }],
  ['keyUsage without keyCertSign', { subject: 'CN=leaf', extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)] }],
  ['keyUsage decipherOnly only (second byte)', { subject: 'CN=leaf', extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.decipherOnly)] }],
  [
    'SANs of every kind we read and some we skip',
    {
      subject: 'CN=svc',
      extensions: [
        san([
          { type: 'dns', value: 'svc.example.com' },
          { type: 'email', value: 'a@example.com' },
          { type: 'ip', value: '10.0.0.1' },
          { type: 'dns', value: '*.svc.example.com' },
          { type: 'url', value: 'spiffe://example/svc' },
          { type: 'ip', value: '2001:db8::1' },
        ]),
      ],
    },
  ],
];

for (const [name, opts] of CASES) {
  test(`facts equal @peculiar/x509's: ${name}`, async () => {
    const cert = await mint(opts);
    // Through JSON: an absent field and an undefined one are the same fact.
    assert.equal(JSON.parse(JSON.stringify(ours(cert))), JSON.parse(JSON.stringify(oracle(cert))));
  });
}

const KEY_ALGORITHMS: Array<[string, RsaHashedKeyGenParams | EcKeyGenParams | { name: 'Ed25519' }, x509.SigningAlgorithm]> = [
  ['RSA 2048', { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as x509.SigningAlgorithm],
  ['EC P-256', { name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' } as x509.SigningAlgorithm],
  ['EC P-384', { name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' } as x509.SigningAlgorithm],
  ['Ed25519', { name: 'Ed25519' }, { name: 'Ed25519' } as x509.SigningAlgorithm],
];

for (const [name, alg, signing] of KEY_ALGORITHMS) {
  test(`the SPKI bytes are what node:crypto exports: ${name}`, async () => {
    const pair = (await webcrypto.subtle.generateKey(alg as never, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=k', keys: pair, signingAlgorithm: signing, notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') });
    const exported = new NodeX509(Buffer.from(cert.rawData)).publicKey.export({ type: 'spki', format: 'der' });
    assert.ok(Buffer.from(x509Facts(new Uint8Array(cert.rawData)).spki).equals(exported), `${name}: same bytes`);
  });
}

test('IP SANs come out in certificate order, IPv6 as eight groups', async () => {
  const cert = await mint({ subject: 'CN=ip', extensions: [san([{ type: 'ip', value: '2001:db8::1' }, { type: 'ip', value: '127.0.0.1' }])] });
  assert.equal(x509Facts(new Uint8Array(cert.rawData)).ipAddresses, ['2001:db8:0:0:0:0:0:1', '127.0.0.1']);
});

test('not a certificate: an Error, for empty, truncated and foreign DER', async () => {
  const der = new Uint8Array((await mint({ subject: 'CN=t' })).rawData);
  for (const bad of [new Uint8Array(0), der.subarray(0, 40), der.subarray(0, der.length - 1), new Uint8Array([0x02, 0x01, 0x05])]) {
    assert.throws(() => x509Facts(bad));
  }
});

test('fuzz: 3000 mutated certificates give facts or an Error, never another throw', async () => {
  const base = new Uint8Array(
    (await mint({ subject: 'CN=f, O=o', extensions: [new x509.BasicConstraintsExtension(true, 1), san([{ type: 'dns', value: 'a.b' }, { type: 'ip', value: '::1' }])] })).rawData,
  );
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const der = new Uint8Array(base);
    for (let k = 1 + rand(4); k > 0; k--) der[rand(der.length)] = rand(256);
    const cut = rand(10) === 0 ? der.subarray(0, rand(der.length)) : der;
    try {
      x509Facts(cut);
      parsed++;
    } catch (err) {
      assert.instance(err, Error);
    }
  }
  assert.ok(parsed > 0, 'some mutations (in signature bytes) must still parse');
});

test.run();
