/**
 * Test-time certificate minting: real keys, real signatures, nothing committed.
 * Every certificate is minted with @peculiar/x509 over node's WebCrypto; the key is
 * also exported in the legacy formats Vault returns (PKCS#1 for RSA, SEC1 for EC).
 */
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = 'rsa' | 'ec' | 'ed25519';
export type KeyUsageName = keyof typeof x509.KeyUsageFlags;

export interface Minted {
  cn: string;
  keyType: KeyType;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  certPem: string;
  /** PKCS#8 (`PRIVATE KEY`). */
  keyPem: string;
  /** PKCS#1 (`RSA PRIVATE KEY`), RSA keys only. */
  keyPemPkcs1?: string;
  /** SEC1 (`EC PRIVATE KEY`), EC keys only. */
  keyPemSec1?: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const KEY_ALGORITHMS: Record<KeyType, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ec: { name: 'ECDSA', namedCurve: 'P-256' },
  ed25519: { name: 'Ed25519' },
};

const SIGNING_ALGORITHMS: Record<KeyType, Algorithm | EcdsaParams> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5' },
  ec: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
  ed25519: { name: 'Ed25519' },
};

function usageFlags(names: KeyUsageName[]): number {
  return names.reduce((flags, name) => flags | x509.KeyUsageFlags[name], 0);
}

async function mint(opts: {
  cn: string;
  keyType: KeyType;
  issuer?: Minted;
  notBefore: Date;
  notAfter: Date;
  serialNumber?: string;
  extensions: x509.Extension[];
}): Promise<Minted> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHMS[opts.keyType] as EcKeyGenParams, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const signer = opts.issuer ?? { keys, keyType: opts.keyType, cert: undefined };
  const extensions = [...opts.extensions, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)];
  if (opts.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.keys.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serialNumber,
    subject: `CN=${opts.cn}`,
    issuer: opts.issuer ? opts.issuer.cert.subject : `CN=${opts.cn}`,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.keys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHMS[signer.keyType],
    extensions,
  });
  const keyObject = KeyObject.from(keys.privateKey);
  const pem = (type: 'pkcs8' | 'pkcs1' | 'sec1') => keyObject.export({ type, format: 'pem' }) as string;
  return {
    cn: opts.cn,
    keyType: opts.keyType,
    cert,
    keys,
    certPem: cert.toString('pem') + '\n',
    keyPem: pem('pkcs8'),
    keyPemPkcs1: opts.keyType === 'rsa' ? pem('pkcs1') : undefined,
    keyPemSec1: opts.keyType === 'ec' ? pem('sec1') : undefined,
  };
}

/**
 * A CA certificate: self-signed unless `issuer` is given. `keyUsage: null` omits the
 * KeyUsage extension; `isCa: false` writes BasicConstraints with cA=false.
 * Validity defaults to one hour ago .. ten years from now.
 */
export function mintCa(opts: {
  cn: string;
  keyType?: KeyType;
  notBefore?: Date;
  notAfter?: Date;
  pathLength?: number;
  keyUsage?: KeyUsageName[] | null;
  isCa?: boolean;
  issuer?: Minted;
}): Promise<Minted> {
  const now = Date.now();
  const keyUsage = opts.keyUsage === undefined ? (['keyCertSign', 'cRLSign'] as KeyUsageName[]) : opts.keyUsage;
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(opts.isCa ?? true, opts.pathLength, true)];
  if (keyUsage) extensions.push(new x509.KeyUsagesExtension(usageFlags(keyUsage), true));
  return mint({
    cn: opts.cn,
    keyType: opts.keyType ?? 'ec',
    issuer: opts.issuer,
    notBefore: opts.notBefore ?? new Date(now - HOUR),
    notAfter: opts.notAfter ?? new Date(now + 3650 * DAY),
    extensions,
  });
}

/**
 * A server/client leaf signed by `issuer`, with DNS and IP SANs.
 * Validity defaults to one hour ago .. thirty days from now.
 */
export function mintLeaf(opts: {
  cn: string;
  dns?: string[];
  ips?: string[];
  issuer: Minted;
  keyType?: KeyType;
  notBefore?: Date;
  notAfter?: Date;
  serialNumber?: string;
}): Promise<Minted> {
  const now = Date.now();
  const keyType = opts.keyType ?? 'ec';
  const names = [
    ...(opts.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const usages: KeyUsageName[] = keyType === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usageFlags(usages), true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  return mint({
    cn: opts.cn,
    keyType,
    issuer: opts.issuer,
    notBefore: opts.notBefore ?? new Date(now - HOUR),
    notAfter: opts.notAfter ?? new Date(now + 30 * DAY),
    serialNumber: opts.serialNumber,
    extensions,
  });
}
