/** Key pairs for the local CA and CSRs: node:crypto keys, exported the way Vault does. */
import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import type { KeyType } from '../config/schema.js';

export interface KeyPair {
  type: KeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKey(type: KeyType): KeyPair {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  switch (type) {
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      pair = generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
      break;
    case 'ec-p256':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'ec-p384':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      break;
    case 'ed25519':
      pair = generateKeyPairSync('ed25519');
      break;
  }
  return { type, ...pair };
}

/** Key type from Vault's key_type/key_bits request parameters. */
export function keyTypeFromParams(params: Record<string, string>, fallback: KeyType): KeyType {
  const kt = params.key_type;
  const bits = params.key_bits ? Number(params.key_bits) : undefined;
  if (kt === 'rsa') return bits === 4096 ? 'rsa-4096' : bits === 3072 ? 'rsa-3072' : 'rsa-2048';
  if (kt === 'ec') return bits === 384 ? 'ec-p384' : 'ec-p256';
  if (kt === 'ed25519') return 'ed25519';
  return fallback;
}

/** Vault's private_key format: PKCS#1 for RSA, SEC1 for EC, PKCS#8 for Ed25519 (or PKCS#8 on request). */
export function exportPrivateKey(key: KeyObject, pkcs8 = false): { pem: string; type: 'rsa' | 'ec' | 'ed25519' } {
  const kind = key.asymmetricKeyType as 'rsa' | 'ec' | 'ed25519';
  const format = pkcs8 || kind === 'ed25519' ? 'pkcs8' : kind === 'rsa' ? 'pkcs1' : 'sec1';
  return { pem: key.export({ type: format, format: 'pem' }).toString(), type: kind };
}

/** WebCrypto algorithm parameters for a node:crypto key (for @peculiar/x509). */
export function webAlgorithm(key: KeyObject): { importAlg: any; signAlg: any } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
      return { importAlg: { name: 'ECDSA', namedCurve: curve }, signAlg: { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' } };
    }
    case 'ed25519':
      return { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } };
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

export async function toWebPrivate(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const { importAlg } = webAlgorithm(key);
  return webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), importAlg, false, ['sign']);
}

export async function toWebPublic(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const { importAlg } = webAlgorithm(key);
  return webcrypto.subtle.importKey('spki', key.export({ type: 'spki', format: 'der' }), importAlg, true, ['verify']);
}
