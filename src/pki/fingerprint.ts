/**
 * Fingerprints with node:crypto only (no @peculiar/x509 on the steady-state path):
 * uppercase hex bytes joined by colons, the format of validate.ts' LeafInfo.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { parsePemBlocks } from './pem.js';
import { x509Facts } from './x509-facts.js';

/**
 * SHA-256 of a SubjectPublicKeyInfo: 32 uppercase hex bytes joined by colons, leading
 * zero bytes kept. The one format for key fingerprints: validation stores it, pinning
 * compares against it (two formatters once disagreed on a digest starting with 00).
 */
export function spkiFingerprint(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/** SHA-256 of the SubjectPublicKeyInfo of every certificate in a PEM text. Unparseable blocks are skipped. */
export function publicKeyFingerprints(pemText: string): string[] {
  const parsed = parsePemBlocks(pemText);
  if (!parsed.ok) return [];
  return parsed.blocks
    .filter((b) => b.label === 'CERTIFICATE')
    .flatMap((b) => {
      try {
        new X509Certificate(b.der); // only what OpenSSL parses counts (it throws otherwise)
        // The SPKI bytes as encoded: exporting them from the KeyObject costs ~1 ms per certificate.
        return [spkiFingerprint(x509Facts(b.der).spki)];
      } catch {
        return [];
      }
    });
}
