import { randomBytes } from 'node:crypto';
import type { OpenBao } from './openbao.js';

export interface PkiOptions {
  mount?: string;
  role?: string;
  commonName?: string;
  /** Restricts the role to these domains and their subdomains; any name otherwise. */
  allowedDomains?: string[];
  /** The role's ttl and max_ttl (OpenBao's defaults when unset: 768h, capped by the CA). */
  ttl?: string;
  maxTtl?: string;
}

/** Root CA lifetime and the mount's max lease TTL: leaves must end before their CA. */
const CA_TTL = '87600h';

/** Enables a PKI mount with an internal root CA and a role that issues for any name and IP. */
export async function setupPki(bao: OpenBao, opts: PkiOptions = {}): Promise<{ caPem: string; issuerId: string }> {
  const { mount = 'pki', role = 'server', commonName = 'certrender-test-ca', allowedDomains, ttl, maxTtl } = opts;
  await bao.api('POST', `sys/mounts/${mount}`, { type: 'pki' });
  await bao.api('POST', `sys/mounts/${mount}/tune`, { max_lease_ttl: CA_TTL });
  const root = await bao.api('POST', `${mount}/root/generate/internal`, { common_name: commonName, ttl: CA_TTL, issuer_name: 'root-1' });
  await bao.api('POST', `${mount}/roles/${role}`, {
    ...(allowedDomains
      ? { allowed_domains: allowedDomains, allow_subdomains: true, allow_bare_domains: true }
      : { allow_any_name: true }),
    allow_ip_sans: true,
    enforce_hostnames: false,
    ...(ttl === undefined ? {} : { ttl }),
    ...(maxTtl === undefined ? {} : { max_ttl: maxTtl }),
  });
  return { caPem: root.data.certificate, issuerId: root.data.issuer_id };
}

/** Generates a new root issuer on the mount and makes it the default; returns its CA PEM. */
export async function rotateRoot(bao: OpenBao, mount = 'pki'): Promise<string> {
  const id = randomBytes(4).toString('hex');
  const root = await bao.api('POST', `${mount}/root/generate/internal`, {
    common_name: `certrender-test-ca-${id}`,
    issuer_name: `root-${id}`,
    ttl: CA_TTL,
  });
  await bao.api('POST', `${mount}/config/issuers`, { default: root.data.issuer_id });
  return root.data.certificate;
}
