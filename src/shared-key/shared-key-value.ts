/**
 * A shared key as it lives in Vault KV v2, and the view templates get of it. Pure: the
 * creation time is a parameter, keys are generated elsewhere.
 *
 * KV data at kv_path: { type, active: { pem, created }, pending?: { pem, created } },
 * pem being PKCS#8. `pending` exists between `rotate-shared-key NAME` and
 * `rotate-shared-key NAME --activate`. Problems never quote key material.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { CertrenderError } from '../errors.js';
import type { SharedKeyConfig } from '../config/schema.js';
import { describeKey, parsePrivateKey } from '../pki/keys.js';

export type SharedKeyType = SharedKeyConfig['type'];

export interface StoredKeyVersion {
  pem: string;
  created: string;
}

/** The KV v2 data of a shared key. */
export interface SharedKeyValue {
  type: SharedKeyType;
  active: StoredKeyVersion;
  pending?: StoredKeyVersion;
}

export interface KeyVersion {
  /** PKCS#8 PEM, no trailing newline. */
  privatePem: string;
  /** SPKI PEM, no trailing newline. */
  publicPem: string;
  /** PKCS#1 PEM for RSA keys. */
  pkcs1Pem?: string;
  /** SHA-256 of the SPKI, colon hex: the key's identity in requests and logs. */
  fingerprint: string;
  created: string;
}

/** A shared key read from its KV path: what a `sharedKey` call resolves to. */
export interface SharedKeyMaterial {
  name: string;
  path: string;
  type: SharedKeyType;
  /** The KV version read (the check-and-set value for the next write). */
  version: number;
  active: KeyVersion;
  pending?: KeyVersion;
}

export function spkiFingerprint(key: KeyObject): string {
  const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/.{2}/g)!.join(':');
}

export function keyMatchesType(key: KeyObject, type: SharedKeyType): boolean {
  const info = describeKey(key);
  switch (type) {
    case 'rsa-2048':
    case 'rsa-4096':
      return info?.type === 'rsa' && info.bits === Number(type.slice(4));
    case 'ec-p256':
      return info?.type === 'ec' && info.curve === 'P-256';
    case 'ed25519':
      return info?.type === 'ed25519';
  }
}

function keyVersion(v: unknown, what: string, type: SharedKeyType): { ok: true; version: KeyVersion } | { ok: false; problem: string } {
  const stored = v as Partial<StoredKeyVersion> | undefined;
  if (!stored || typeof stored !== 'object' || typeof stored.pem !== 'string') return { ok: false, problem: `"${what}" has no "pem" string` };
  const parsed = parsePrivateKey(stored.pem);
  if (!parsed.ok) return { ok: false, problem: `"${what}.pem": ${parsed.problems.map((p) => p.message).join('; ')}` };
  if (!keyMatchesType(parsed.key, type)) {
    const info = parsed.info;
    const actual = info.curve ? `ec ${info.curve}` : info.bits ? `${info.type}-${info.bits}` : info.type;
    return { ok: false, problem: `"${what}.pem" is a ${actual} key, not ${type}` };
  }
  const trim = (s: string | Buffer) => s.toString().trim();
  return {
    ok: true,
    version: {
      privatePem: trim(parsed.key.export({ type: 'pkcs8', format: 'pem' })),
      publicPem: trim(createPublicKey(parsed.key).export({ type: 'spki', format: 'pem' })),
      pkcs1Pem: parsed.info.type === 'rsa' ? trim(parsed.key.export({ type: 'pkcs1', format: 'pem' })) : undefined,
      fingerprint: spkiFingerprint(parsed.key),
      created: typeof stored.created === 'string' ? stored.created : '',
    },
  };
}

/** Checks what a KV read returned against the declared type: the material, or why it is not a shared key. */
export function parseSharedKeyValue(opts: {
  name: string;
  path: string;
  type: SharedKeyType;
  version: number;
  data: unknown;
}): { ok: true; value: SharedKeyValue; material: SharedKeyMaterial } | { ok: false; problems: string[] } {
  const d = opts.data as Partial<SharedKeyValue> | null | undefined;
  if (!d || typeof d !== 'object' || Array.isArray(d)) return { ok: false, problems: ['the data is not an object'] };
  const problems: string[] = [];
  if (d.type !== opts.type) problems.push(`"type" is ${JSON.stringify(d.type)}, the config declares "${opts.type}"`);
  const active = keyVersion(d.active, 'active', opts.type);
  if (!active.ok) problems.push(active.problem);
  const pending = d.pending === undefined || d.pending === null ? undefined : keyVersion(d.pending, 'pending', opts.type);
  if (pending && !pending.ok) problems.push(pending.problem);
  if (problems.length || !active.ok || (pending && !pending.ok)) return { ok: false, problems };
  const value: SharedKeyValue = { type: opts.type, active: d.active!, ...(pending ? { pending: d.pending! } : {}) };
  return {
    ok: true,
    value,
    material: { name: opts.name, path: opts.path, type: opts.type, version: opts.version, active: active.version, ...(pending?.ok ? { pending: pending.version } : {}) },
  };
}

export function initialValue(opts: { type: SharedKeyType; pem: string; created: string }): SharedKeyValue {
  return { type: opts.type, active: { pem: opts.pem, created: opts.created } };
}

/** Stage a new key: public-key renders trust it at once, private-key and CSR renders wait for activation. */
export function withPending(value: SharedKeyValue, next: StoredKeyVersion): SharedKeyValue {
  return { type: value.type, active: value.active, pending: next };
}

/** Promote the pending key to active; the old active key is dropped. */
export function promotePending(value: SharedKeyValue): SharedKeyValue {
  if (!value.pending) throw new CertrenderError('CR_INTERNAL', 'promotePending: no pending key');
  return { type: value.type, active: value.pending };
}

export interface SharedKeyView {
  /** The active private key, PKCS#8 PEM. */
  PrivateKey: string;
  /** The active private key, PKCS#1 PEM (RSA only: a template error otherwise). */
  readonly PrivateKeyPKCS1: string;
  /** The active public key, SPKI PEM. */
  PublicKey: string;
  /** The active then the pending public key, SPKI PEMs joined by a newline. */
  PublicKeys: string;
}

/** What `sharedKey "name"` returns to a template. */
export function sharedKeyView(m: SharedKeyMaterial): SharedKeyView {
  return {
    PrivateKey: m.active.privatePem,
    get PrivateKeyPKCS1() {
      if (m.active.pkcs1Pem === undefined) {
        throw new CertrenderError('CR_TEMPLATE_FUNCTION', `sharedKey "${m.name}": .PrivateKeyPKCS1 exists for RSA keys only; "${m.name}" is ${m.type}`, {
          hint: 'use .PrivateKey (PKCS#8)',
        });
      }
      return m.active.pkcs1Pem;
    },
    PublicKey: m.active.publicPem,
    PublicKeys: [m.active, ...(m.pending ? [m.pending] : [])].map((v) => v.publicPem).join('\n'),
  };
}
