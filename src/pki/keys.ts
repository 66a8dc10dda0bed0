import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { parsePemBlocks } from './pem.js';
import type { Problem } from './problem.js';

export interface KeyInfo {
  type: 'rsa' | 'ec' | 'ed25519';
  /** RSA modulus length, or the EC curve size. */
  bits?: number;
  /** 'P-256' | 'P-384' | 'P-521' for EC keys. */
  curve?: string;
}

export type PrivateKeyResult = { ok: true; key: KeyObject; info: KeyInfo } | { ok: false; problems: Problem[] };

/** The private key labels Vault and OpenSSL write, and the DER format each holds. */
const DER_TYPES: Record<string, 'pkcs1' | 'sec1' | 'pkcs8'> = { 'RSA PRIVATE KEY': 'pkcs1', 'EC PRIVATE KEY': 'sec1', 'PRIVATE KEY': 'pkcs8' };
export const PRIVATE_KEY_LABELS = Object.keys(DER_TYPES);

const CURVES: Record<string, { curve: string; bits: number }> = {
  prime256v1: { curve: 'P-256', bits: 256 },
  secp384r1: { curve: 'P-384', bits: 384 },
  secp521r1: { curve: 'P-521', bits: 521 },
};

/** Type and size of an RSA, EC (NIST curve) or Ed25519 key, public or private; undefined for anything else. */
export function describeKey(key: KeyObject): KeyInfo | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { type: 'rsa', bits: details.modulusLength };
    case 'ec': {
      const curve = CURVES[details.namedCurve ?? ''];
      return curve && { type: 'ec', ...curve };
    }
    case 'ed25519':
      return { type: 'ed25519' };
    default:
      return undefined;
  }
}

/**
 * Parses exactly one unencrypted private key block (text outside it is allowed).
 * Problems never quote key material nor OpenSSL's messages about it.
 */
export function parsePrivateKey(pem: string): PrivateKeyResult {
  const invalid = (message: string): PrivateKeyResult => ({ ok: false, problems: [{ rule: 'key_invalid', message }] });
  const parsed = parsePemBlocks(pem);
  if (!parsed.ok) return invalid(`private key is not valid PEM: ${parsed.problems.map((p) => p.message).join('; ')}`);
  const keyBlocks = parsed.blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (keyBlocks.length !== 1) return invalid(`expected exactly one private key block, found ${keyBlocks.length}`);
  const [block] = keyBlocks;
  if (!PRIVATE_KEY_LABELS.includes(block.label)) {
    return invalid(`unsupported private key block "${block.label}" (expected ${PRIVATE_KEY_LABELS.join(', ')}; encrypted keys are not supported)`);
  }
  const hit = decoded.get(block.pem);
  if (hit) return hit;
  let key: KeyObject;
  try {
    // The DER with its format named: OpenSSL 3 then runs one decoder instead of trying each
    // in turn on the PEM (0.35 ms instead of 0.7 ms for an RSA-2048 key).
    key = createPrivateKey({ key: block.der, format: 'der', type: DER_TYPES[block.label] });
  } catch {
    return invalid(`the ${block.label} block does not decode as a private key`);
  }
  const info = describeKey(key);
  if (!info) return invalid(`unsupported key type ${key.asymmetricKeyType} (expected RSA, EC P-256/P-384/P-521 or Ed25519)`);
  const result: PrivateKeyResult = { ok: true, key, info };
  if (decoded.size >= DECODED_MAX) decoded.delete(decoded.keys().next().value as string);
  decoded.set(block.pem, result);
  return result;
}

/**
 * Keys decoded lately, by block: a cycle checks each new key twice (the issuance, then the
 * rendered file that holds it), and OpenSSL 3 takes ~1.5 ms to decode an RSA key.
 * KeyObjects are immutable, so sharing one is safe.
 */
const decoded = new Map<string, PrivateKeyResult>();
const DECODED_MAX = 64;

/** True when the private key belongs to the certificate; false when they differ or either does not parse. */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  const parsed = parsePrivateKey(keyPem);
  if (!parsed.ok) return false;
  try {
    return new X509Certificate(certPem).checkPrivateKey(parsed.key);
  } catch {
    return false;
  }
}
