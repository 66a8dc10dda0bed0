import 'reflect-metadata';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, generateKeyPairSync, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { publicKeyFingerprints } from './fingerprint.js';
import { mintCa, mintLeaf, type Minted } from '../../test/helpers/mint.js';
import { isCertrenderError } from '../errors.js';
import { describeKey, keyMatchesCertificate, parsePrivateKey } from './keys.js';
import {
  certificateInfo,
  fingerprintOf,
  validateCertificateFile,
  validateIssuance,
  type ValidateIssuanceInput,
  type ValidationResult,
} from './validate.js';

const DAY = 86_400_000;
const now = new Date();
const days = (n: number) => new Date(now.getTime() + n * DAY);

const root = await mintCa({ cn: 'Root CA', keyType: 'rsa' });
const inter = await mintCa({ cn: 'Intermediate CA', issuer: root });
const otherRoot = await mintCa({ cn: 'Other Root CA' });
const sameDnRoot = await mintCa({ cn: 'Root CA', keyType: 'rsa' });
const names = { dns: ['a.example', 'b.example'], ips: ['10.0.0.1', '::1'] };
const leafFor = (issuer: Minted, extra: Partial<Parameters<typeof mintLeaf>[0]> = {}) =>
  mintLeaf({ cn: 'a.example', ...names, issuer, ...extra });
const leaf = await leafFor(inter);
const leafRsa = await leafFor(inter, { keyType: 'rsa' });
const leafEd = await leafFor(inter, { keyType: 'ed25519' });
const request = { commonName: 'a.example', altNames: ['a.example', 'b.example'], ipSans: ['10.0.0.1', '0:0:0:0:0:0:0:1'] };

const input = (over: Partial<ValidateIssuanceInput> = {}): ValidateIssuanceInput => ({
  certificate: leaf.certPem,
  privateKey: leaf.keyPem,
  chain: [inter.certPem, root.certPem],
  anchors: [root.certPem],
  request,
  now,
  ...over,
});

const rulesOf = (r: ValidationResult) => (r.ok ? [] : [...new Set(r.problems.map((p) => p.rule))].sort());

// Fixtures for the failure table.
const expiredLeaf = await leafFor(inter, { notBefore: days(-30), notAfter: days(-1) });
const futureLeaf = await leafFor(inter, { notBefore: days(1), notAfter: days(30) });
const expiredInter = await mintCa({ cn: 'Expired Intermediate', issuer: root, notBefore: days(-30), notAfter: days(-1) });
const leafOfExpiredInter = await leafFor(expiredInter);
const notCa = await mintCa({ cn: 'Not A CA', issuer: root, isCa: false });
const leafOfNotCa = await leafFor(notCa);
const noCertSign = await mintCa({ cn: 'No CertSign', issuer: root, keyUsage: ['digitalSignature', 'cRLSign'] });
const leafOfNoCertSign = await leafFor(noCertSign);
const noKu = await mintCa({ cn: 'No KeyUsage', issuer: root, keyUsage: null });
const leafOfNoKu = await leafFor(noKu);
const root0 = await mintCa({ cn: 'Root pathlen 0', pathLength: 0 });
const inter0 = await mintCa({ cn: 'Below pathlen 0', issuer: root0 });
const leafOfInter0 = await leafFor(inter0);
const leafOfRoot0 = await leafFor(root0);
const root1 = await mintCa({ cn: 'Root pathlen 1', pathLength: 1 });
const inter1 = await mintCa({ cn: 'Below pathlen 1', issuer: root1 });
const leafOfInter1 = await leafFor(inter1);
const deep1 = await mintCa({ cn: 'Deep 1', issuer: root });
const deep2 = await mintCa({ cn: 'Deep 2', issuer: deep1, keyType: 'ed25519' });
const leafDeep = await leafFor(deep2);
const leafOfRoot = await leafFor(root);
const leafOfSameDn = await leafFor(sameDnRoot);
const otherLeaf = await leafFor(inter);
const impostorInter = await mintCa({ cn: 'Intermediate CA', issuer: root });
const truncated = leaf.certPem.split('\n').slice(0, 5).join('\n');
const garbage = '-----BEGIN CERTIFICATE-----\nnot*base64*at*all\n-----END CERTIFICATE-----\n';
const notDer = '-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n';

const good: [string, Partial<ValidateIssuanceInput>][] = [
  ['EC leaf, SEC1 key', { privateKey: leaf.keyPemSec1 }],
  ['EC leaf, PKCS#8 key', {}],
  ['RSA leaf, PKCS#1 key', { certificate: leafRsa.certPem, privateKey: leafRsa.keyPemPkcs1 }],
  ['RSA leaf, PKCS#8 key', { certificate: leafRsa.certPem, privateKey: leafRsa.keyPem }],
  ['Ed25519 leaf, PKCS#8 key', { certificate: leafEd.certPem, privateKey: leafEd.keyPem }],
  ['no private key given', { privateKey: undefined }],
  ['no request given', { request: undefined }],
  ['chain out of order', { chain: [root.certPem, inter.certPem] }],
  ['chain without the root', { chain: [inter.certPem] }],
  ['chain as one string, anchors as a bundle', { chain: [root.certPem + inter.certPem], anchors: [otherRoot.certPem + root.certPem] }],
  ['leaf signed directly by the anchor, empty chain', { certificate: leafOfRoot.certPem, privateKey: leafOfRoot.keyPem, chain: [] }],
  ['CN may be an extra SAN', { request: { ...request, altNames: ['b.example'] } }],
  ['CA without a KeyUsage extension (RFC 5280: unrestricted)', { certificate: leafOfNoKu.certPem, privateKey: leafOfNoKu.keyPem, chain: [noKu.certPem] }],
  ['pathLength 0 root signing a leaf directly', { certificate: leafOfRoot0.certPem, privateKey: leafOfRoot0.keyPem, chain: [], anchors: [root0.certPem] }],
  ['pathLength 1 root, one intermediate', { certificate: leafOfInter1.certPem, privateKey: leafOfInter1.keyPem, chain: [inter1.certPem], anchors: [root1.certPem] }],
];
for (const [name, over] of good) {
  test(`valid: ${name}`, () => {
    const r = validateIssuance(input(over));
    assert.equal(rulesOf(r), []);
    assert.ok(r.ok);
  });
}

test('valid: a deep chain given shuffled builds leaf -> anchor', () => {
  const r = validateIssuance(input({ certificate: leafDeep.certPem, privateKey: leafDeep.keyPem, chain: [deep1.certPem, root.certPem, deep2.certPem] }));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.chain.map((c) => c.subject), ['CN=a.example', 'CN=Deep 2', 'CN=Deep 1', 'CN=Root CA']);
  assert.is(r.chain[3].publicKeyFingerprint256, certificateInfo(root.certPem).publicKeyFingerprint256);
  assert.equal(r.warnings, []);
});

test('a public key fingerprint keeps all 32 bytes when the digest starts with a zero byte (1 key in 256)', async () => {
  let keys: CryptoKeyPair | undefined;
  for (let i = 0; i < 5000 && !keys; i++) {
    const k = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', k.publicKey));
    if (createHash('sha256').update(spki).digest()[0] === 0) keys = k;
  }
  assert.ok(keys, 'found a key whose SPKI digest starts with 00');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=zero', keys: keys!, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as x509.SigningAlgorithm });
  const pem = cert.toString('pem');
  const fp = certificateInfo(pem).publicKeyFingerprint256;
  assert.is(fp.split(':').length, 32, fp);
  assert.ok(fp.startsWith('00:'), fp);
  assert.equal([fp], publicKeyFingerprints(pem), 'validation and anchor pinning print it alike');
});

test('valid: leaf info', () => {
  const r = validateIssuance(input());
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.leaf.subject, 'CN=a.example');
  assert.is(r.leaf.issuer, 'CN=Intermediate CA');
  assert.equal(r.leaf.dnsNames, ['a.example', 'b.example']);
  assert.equal(r.leaf.ipAddresses, ['10.0.0.1', '::1']);
  assert.is(r.leaf.isCa, false);
  assert.is(r.leaf.fingerprint256, fingerprintOf(leaf.certPem));
  assert.match(r.leaf.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(r.leaf.serial, /^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
  assert.is(r.chain.length, 3);
});

test('valid with a warning: an unrelated certificate in the chain', () => {
  const r = validateIssuance(input({ chain: [inter.certPem, otherRoot.certPem] }));
  assert.ok(r.ok);
  assert.equal(r.warnings.map((w) => w.rule), ['chain_unused']);
});

test('valid with a warning: a same-DN intermediate with another key is skipped', () => {
  const r = validateIssuance(input({ chain: [impostorInter.certPem, inter.certPem, root.certPem] }));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.chain[1].fingerprint256, fingerprintOf(inter.certPem));
  assert.equal(r.warnings.map((w) => w.rule), ['chain_unused']);
});

const bad: [string, Partial<ValidateIssuanceInput>, string[]][] = [
  ['wrong CA, its root in the chain', { anchors: [otherRoot.certPem] }, ['untrusted_anchor']],
  ['wrong CA, no root in the chain', { chain: [inter.certPem], anchors: [otherRoot.certPem] }, ['chain_incomplete']],
  ["the response's own root is not an anchor", { anchors: [] }, ['untrusted_anchor']],
  ['same-DN-other-key anchor, real root in the chain', { anchors: [sameDnRoot.certPem] }, ['untrusted_anchor']],
  ['same-DN-other-key anchor, no root in the chain', { chain: [inter.certPem], anchors: [sameDnRoot.certPem] }, ['chain_incomplete', 'signature_invalid']],
  ['leaf of the same-DN-other-key CA, real root as anchor', { certificate: leafOfSameDn.certPem, privateKey: leafOfSameDn.keyPem, chain: [] }, ['chain_incomplete', 'signature_invalid']],
  ['same-DN intermediate with another key (signed by the real root)', { chain: [impostorInter.certPem, root.certPem] }, ['chain_incomplete', 'signature_invalid']],
  ['no chain at all below an intermediate', { chain: [] }, ['chain_incomplete']],
  ['key mismatch', { privateKey: otherLeaf.keyPem }, ['key_mismatch']],
  ['key of another type', { privateKey: leafRsa.keyPemPkcs1 }, ['key_mismatch']],
  ['key garbage', { privateKey: '-----BEGIN PRIVATE KEY-----\nQUJDRA==\n-----END PRIVATE KEY-----\n' }, ['key_invalid']],
  ['key not PEM', { privateKey: 'nope' }, ['key_invalid']],
  ['expired leaf', { certificate: expiredLeaf.certPem, privateKey: expiredLeaf.keyPem }, ['expired']],
  ['not-yet-valid leaf', { certificate: futureLeaf.certPem, privateKey: futureLeaf.keyPem }, ['not_yet_valid']],
  ['expired intermediate', { certificate: leafOfExpiredInter.certPem, privateKey: leafOfExpiredInter.keyPem, chain: [expiredInter.certPem] }, ['expired']],
  ['missing DNS SAN', { request: { ...request, altNames: [...request.altNames, 'c.example'] } }, ['san_missing']],
  ['missing IP SAN', { request: { ...request, ipSans: [...request.ipSans, '10.0.0.2'] } }, ['san_missing']],
  ['unexpected DNS SAN', { request: { ...request, altNames: ['a.example'] } }, ['san_unexpected']],
  ['unexpected IP SAN', { request: { ...request, ipSans: ['10.0.0.1'] } }, ['san_unexpected']],
  ['CN in SANs despite exclude_cn_from_sans', { request: { ...request, altNames: ['b.example'], excludeCnFromSans: true } }, ['san_unexpected']],
  ['CN mismatch', { request: { ...request, commonName: 'b.example' } }, ['cn_mismatch']],
  ['intermediate without the CA flag', { certificate: leafOfNotCa.certPem, privateKey: leafOfNotCa.keyPem, chain: [notCa.certPem] }, ['issuer_not_ca']],
  ['intermediate without keyCertSign', { certificate: leafOfNoCertSign.certPem, privateKey: leafOfNoCertSign.keyPem, chain: [noCertSign.certPem] }, ['issuer_no_keycertsign']],
  ['pathLength 0 CA signing a CA signing the leaf', { certificate: leafOfInter0.certPem, privateKey: leafOfInter0.keyPem, chain: [inter0.certPem], anchors: [root0.certPem] }, ['path_length_exceeded']],
  ['truncated leaf PEM', { certificate: truncated }, ['pem_invalid']],
  ['garbage base64 leaf', { certificate: garbage }, ['pem_invalid']],
  ['base64 that is not a certificate', { certificate: notDer }, ['pem_invalid']],
  ['two certificates as the leaf', { certificate: leaf.certPem + inter.certPem }, ['pem_invalid']],
  ['garbage in the chain', { chain: [inter.certPem, garbage] }, ['pem_invalid']],
  ['a key in the chain', { chain: [inter.certPem, leaf.keyPem] }, ['pem_invalid']],
  ['truncated anchor', { anchors: [root.certPem.slice(0, 200)] }, ['pem_invalid', 'untrusted_anchor']],
  [
    'every problem is collected',
    { certificate: expiredLeaf.certPem, privateKey: otherLeaf.keyPem, anchors: [otherRoot.certPem], request: { ...request, commonName: 'x.example', altNames: ['z.example'] } },
    ['cn_mismatch', 'expired', 'key_mismatch', 'san_missing', 'san_unexpected', 'untrusted_anchor'],
  ],
  ['bad leaf and bad key are both reported', { certificate: garbage, privateKey: 'nope' }, ['key_invalid', 'pem_invalid']],
];
for (const [name, over, rules] of bad) {
  test(`rejected: ${name}`, () => {
    const r = validateIssuance(input(over));
    assert.not.ok(r.ok);
    assert.equal(rulesOf(r), rules);
  });
}

test('problems name the certificate and never quote the key', () => {
  const r = validateIssuance(input({ certificate: expiredLeaf.certPem, privateKey: otherLeaf.keyPem }));
  assert.not.ok(r.ok);
  if (r.ok) return;
  const expired = r.problems.find((p) => p.rule === 'expired');
  assert.ok(expired?.message.includes('CN=a.example') && expired.message.includes(certificateInfo(expiredLeaf.certPem).serial));
  const garbled = validateIssuance(input({ privateKey: otherLeaf.keyPem.replace('MI', 'M*') }));
  assert.equal(rulesOf(garbled), ['key_invalid']);
  const keyBody = otherLeaf.keyPem.split('\n')[1].slice(4, 20);
  for (const p of [...r.problems, ...(garbled.ok ? [] : garbled.problems)]) assert.not.ok(p.message.includes(keyBody), p.message);
});

test('date problems are reported for each certificate of the path', () => {
  const r = validateIssuance(input({ now: days(4000) }));
  assert.not.ok(r.ok);
  if (!r.ok) assert.is(r.problems.filter((p) => p.rule === 'expired').length, 3);
});

test('serial is formatted like Vault (lowercase, colon-separated, no sign byte)', async () => {
  const high = await leafFor(inter, { serialNumber: '8f01a2' });
  assert.is(certificateInfo(high.certPem).serial, '8f:01:a2');
  const low = await leafFor(inter, { serialNumber: '0a0b' });
  assert.is(certificateInfo(low.certPem).serial, '0a:0b');
});

test('certificateInfo throws CR_PEM_INVALID on anything but one certificate', () => {
  for (const text of [garbage, truncated, leaf.certPem + inter.certPem, leaf.keyPem, '']) {
    try {
      certificateInfo(text);
      assert.unreachable();
    } catch (e) {
      assert.ok(isCertrenderError(e) && e.code === 'CR_PEM_INVALID');
    }
  }
});

// keys

test('parsePrivateKey and describeKey over every supported format', () => {
  const cases: [string | undefined, object][] = [
    [leafRsa.keyPemPkcs1, { type: 'rsa', bits: 2048 }],
    [leafRsa.keyPem, { type: 'rsa', bits: 2048 }],
    [leaf.keyPemSec1, { type: 'ec', curve: 'P-256', bits: 256 }],
    [leaf.keyPem, { type: 'ec', curve: 'P-256', bits: 256 }],
    [leafEd.keyPem, { type: 'ed25519' }],
    [generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string, { type: 'ec', curve: 'P-384', bits: 384 }],
  ];
  for (const [pem, info] of cases) {
    const r = parsePrivateKey(pem!);
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.info, info);
  }
  assert.equal(describeKey(generateKeyPairSync('ed25519').publicKey), { type: 'ed25519' });
});

test('parsePrivateKey rejects unsupported and encrypted keys', () => {
  const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const encrypted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'secret',
  }) as string;
  for (const pem of [x25519, secp256k1, encrypted, leaf.keyPem + otherLeaf.keyPem, leaf.certPem, '']) {
    const r = parsePrivateKey(pem);
    assert.not.ok(r.ok);
    if (!r.ok) assert.equal(r.problems.map((p) => p.rule), ['key_invalid']);
  }
});

test('keyMatchesCertificate', () => {
  assert.ok(keyMatchesCertificate(leafRsa.keyPemPkcs1!, leafRsa.certPem));
  assert.ok(keyMatchesCertificate(leaf.keyPemSec1!, leaf.certPem));
  assert.ok(keyMatchesCertificate(leafEd.keyPem, leafEd.certPem));
  assert.not.ok(keyMatchesCertificate(otherLeaf.keyPem, leaf.certPem));
  assert.not.ok(keyMatchesCertificate(leafEd.keyPem, leaf.certPem));
  assert.not.ok(keyMatchesCertificate('garbage', leaf.certPem));
  assert.not.ok(keyMatchesCertificate(leaf.keyPem, 'garbage'));
});

// rendered files

const file = (content: string, privateKeyPem?: string) => validateCertificateFile({ content, privateKeyPem, anchors: [root.certPem], now });

test('file: not PEM', () => {
  const glued = leaf.certPem.trimEnd() + inter.certPem;
  const goList = `[${leaf.certPem.trimEnd()} ${inter.certPem.trimEnd()}]`;
  for (const content of ['', 'plain text\n', glued, goList, truncated]) assert.is(file(content).kind, 'not_pem');
});

test('file: key only', () => {
  assert.equal(file(leaf.keyPemSec1!), { kind: 'key_only', ok: true, problems: [] });
  const pub = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  assert.equal(file(pub), { kind: 'key_only', ok: true, problems: [] });
  const r = file('-----BEGIN PRIVATE KEY-----\nQUJDRA==\n-----END PRIVATE KEY-----\n');
  assert.ok(r.kind === 'key_only' && !r.ok && r.problems[0].rule === 'key_invalid');
});

const fileRules = (r: ReturnType<typeof validateCertificateFile>) => {
  assert.is(r.kind, 'certificates');
  return r.kind === 'certificates' ? rulesOf(r.result) : ['<not certificates>'];
};

test('file: leaf + chain, with the issuance key', () => {
  assert.equal(fileRules(file(leaf.certPem + inter.certPem, leaf.keyPem)), []);
  assert.equal(fileRules(file(leaf.certPem + inter.certPem, otherLeaf.keyPem)), ['key_mismatch']);
  assert.equal(fileRules(file(leaf.certPem)), ['chain_incomplete']);
  assert.equal(fileRules(file(expiredLeaf.certPem + inter.certPem)), ['expired']);
});

test('file: cert + key bundle checks its own key first', () => {
  assert.equal(fileRules(file(leaf.certPem + inter.certPem + leaf.keyPemSec1, otherLeaf.keyPem)), []);
  assert.equal(fileRules(file(leaf.certPem + inter.certPem + otherLeaf.keyPem, leaf.keyPem)), ['key_mismatch']);
  assert.equal(fileRules(file(leaf.certPem + leaf.keyPem + otherLeaf.keyPem)), ['chain_incomplete', 'key_invalid']);
});

test('file: other blocks are ignored with a warning', () => {
  const dh = '-----BEGIN DH PARAMETERS-----\nQUJD\n-----END DH PARAMETERS-----\n';
  const r = file(leaf.certPem + inter.certPem + dh);
  assert.ok(r.kind === 'certificates' && r.result.ok);
  if (r.kind === 'certificates') assert.equal(r.result.warnings.map((w) => w.rule), ['pem_block_ignored']);
});

test('file: CA bundle', () => {
  assert.equal(fileRules(file(root.certPem)), []);
  assert.equal(fileRules(file(inter.certPem + root.certPem)), []);
  assert.equal(fileRules(file(deep2.certPem + deep1.certPem)), []);
  assert.equal(fileRules(file(deep2.certPem)), ['chain_incomplete']);
  assert.equal(fileRules(file(otherRoot.certPem + root.certPem)), ['untrusted_anchor']);
  assert.equal(fileRules(file(inter.certPem + otherRoot.certPem)), ['untrusted_anchor']);
  assert.equal(fileRules(file(sameDnRoot.certPem)), ['untrusted_anchor']);
  assert.equal(fileRules(file(expiredInter.certPem)), ['expired']);
  const r = file(inter.certPem + root.certPem);
  if (r.kind === 'certificates' && r.result.ok) assert.equal(r.result.chain.map((c) => c.subject), ['CN=Intermediate CA', 'CN=Root CA']);
});

test.run();
