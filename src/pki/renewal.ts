import { CertrenderError } from '../errors.js';

export const DEFAULT_RENEW_FRACTION = 2 / 3;
export const DEFAULT_RENEW_JITTER = 0.05;

/**
 * The renewal point, drawn once at issuance and stored:
 * notBefore + lifetime*fraction - lifetime*jitter*random(). Jitter only moves it earlier.
 */
export function drawRenewAt(opts: { notBefore: Date; notAfter: Date; fraction?: number; jitter?: number; random: () => number }): Date {
  const fraction = opts.fraction ?? DEFAULT_RENEW_FRACTION;
  const jitter = opts.jitter ?? DEFAULT_RENEW_JITTER;
  if (!(fraction > 0 && fraction <= 1) || !(jitter >= 0 && jitter <= fraction)) {
    throw new CertrenderError('CR_INTERNAL', `renewal fraction ${fraction} / jitter ${jitter} out of range`, {
      hint: 'fraction must be in (0, 1] and jitter in [0, fraction]',
    });
  }
  const r = Math.min(1, Math.max(0, opts.random()));
  const start = opts.notBefore.getTime();
  const lifetime = Math.max(0, opts.notAfter.getTime() - start);
  return new Date(Math.floor(start + lifetime * fraction - lifetime * jitter * r));
}

export interface StoredIssuance {
  requestHash: string;
  notBefore: Date;
  notAfter: Date;
  renewAt: Date;
  /** Public-key fingerprint of the trust anchor the path ended at (`validateIssuance(...).chain.at(-1).publicKeyFingerprint256`). */
  issuerPublicKeyFingerprint256: string;
  /** The issuance passed validation when it was made. */
  valid: boolean;
}

export type IssuanceReason = 'reused' | 'missing' | 'request_changed' | 'invalid' | 'issuer_changed' | 'in_window' | 'forced';

export interface IssuanceDecision {
  action: 'reuse' | 'issue';
  reason: IssuanceReason;
  /** The stored renewal point, for `reused` (when to wake) and `in_window` (when it fell due). */
  renewAt?: Date;
}

/**
 * Hex, lowercase, 32 bytes. Records stored before 2026-12 dropped a SHA-256 fingerprint's
 * leading zero bytes (1 digest in 256): padded back here, they still match their anchor.
 */
const normalizeFingerprint = (f: string) => f.replace(/:/g, '').toLowerCase().padStart(64, '0');

/**
 * Reuse or issue, first match wins: forced > missing > request_changed > invalid
 * (not validated, expired or not yet valid at `now`) > issuer_changed (the stored
 * anchor key is not among the current anchors) > in_window (now >= renewAt) > reused.
 */
export function decideIssuance(opts: {
  stored?: StoredIssuance;
  requestHash: string;
  anchorPublicKeyFingerprints: string[];
  now: Date;
  force: boolean;
}): IssuanceDecision {
  const { stored, now } = opts;
  if (opts.force) return { action: 'issue', reason: 'forced' };
  if (!stored) return { action: 'issue', reason: 'missing' };
  if (stored.requestHash !== opts.requestHash) return { action: 'issue', reason: 'request_changed' };
  if (!stored.valid || now < stored.notBefore || now > stored.notAfter) return { action: 'issue', reason: 'invalid' };
  const anchors = opts.anchorPublicKeyFingerprints.map(normalizeFingerprint);
  if (!anchors.includes(normalizeFingerprint(stored.issuerPublicKeyFingerprint256))) return { action: 'issue', reason: 'issuer_changed' };
  if (now >= stored.renewAt) return { action: 'issue', reason: 'in_window', renewAt: stored.renewAt };
  return { action: 'reuse', reason: 'reused', renewAt: stored.renewAt };
}
