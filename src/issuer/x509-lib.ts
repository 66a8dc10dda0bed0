/**
 * @peculiar/x509 loaded on demand: it costs ~150 ms at start-up, and only building
 * certificates and CSRs needs it (the local CA, shared-key CSRs); validation reads
 * certificates without it (src/pki/x509-facts.ts). `reflect-metadata` must be imported first.
 */
import { webcrypto } from 'node:crypto';

type X509 = typeof import('@peculiar/x509');
let loaded: Promise<X509> | undefined;

export function loadX509(): Promise<X509> {
  loaded ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })();
  return loaded;
}
