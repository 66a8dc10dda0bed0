import { createPublicKey, X509Certificate as NodeCertificate } from 'node:crypto';
import { CertrenderError } from '../errors.js';
import { parsePrivateKey, PRIVATE_KEY_LABELS } from './keys.js';
import { parsePemBlocks, type PemBlock } from './pem.js';
import type { Problem } from './problem.js';
import { x509Facts } from './x509-facts.js';
import { spkiFingerprint } from './fingerprint.js';

export interface LeafInfo {
  subject: string;
  issuer: string;
  /** Lowercase hex bytes joined by colons, as Vault's `serial_number`. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the certificate DER, uppercase hex bytes joined by colons (as `openssl x509 -fingerprint`). */
  fingerprint256: string;
  dnsNames: string[];
  ipAddresses: string[];
  isCa: boolean;
  /** SHA-256 of the SubjectPublicKeyInfo DER, same format as fingerprint256. */
  publicKeyFingerprint256: string;
}

export type ValidationResult =
  | { ok: true; leaf: LeafInfo; chain: LeafInfo[]; warnings: Problem[] }
  | { ok: false; problems: Problem[]; warnings: Problem[] };

export interface IssuanceRequest {
  commonName?: string;
  altNames?: string[];
  ipSans?: string[];
  excludeCnFromSans?: boolean;
}

export interface ValidateIssuanceInput {
  /** Leaf PEM: exactly one CERTIFICATE block. */
  certificate: string;
  privateKey?: string;
  /** PEMs the response carried; each string may hold several certificates; order is not trusted. */
  chain: string[];
  /** Trust anchor PEMs; each string may hold several certificates. */
  anchors: string[];
  request?: IssuanceRequest;
  now: Date;
}

interface Cert {
  pem: string;
  info: LeafInfo;
  node: NodeCertificate;
  commonName?: string;
  ca: boolean;
  pathLength?: number;
  /** False only when a KeyUsage extension is present without keyCertSign (RFC 5280: absent means unrestricted). */
  keyCertSign: boolean;
  /** `"CN=x" (serial aa:bb)`: how messages name a certificate. */
  name: string;
}

const MAX_PATH = 10;

function colonHex(hex: string, upper = false): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  const bytes = even.match(/../g) ?? [];
  while (bytes.length > 1 && bytes[0] === '00') bytes.shift();
  const joined = bytes.join(':');
  return upper ? joined.toUpperCase() : joined.toLowerCase();
}

function canonicalIp(ip: string): string {
  try {
    return new URL(`http://${ip.includes(':') ? `[${ip}]` : ip}/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return ip.toLowerCase();
  }
}

/**
 * One cycle sees the same CA and leaves many times (each issuance, then each rendered
 * file), and verifying signatures is the costly part of validation: parsed certificates
 * depend on the PEM alone, so they are memoised (bounded, oldest out first).
 */
const parsed = new Map<string, Cert>();
const PARSED_MAX = 512;

function parseCert(pem: string): Cert {
  const hit = parsed.get(pem);
  if (hit) return hit;
  const c = parseCertUncached(pem);
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  parsed.set(pem, c);
  return c;
}

function parseCertUncached(pem: string): Cert {
  const node = new NodeCertificate(pem);
  const facts = x509Facts(node.raw);
  const info: LeafInfo = {
    subject: facts.subject,
    issuer: facts.issuer,
    serial: colonHex(node.serialNumber),
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    fingerprint256: node.fingerprint256,
    dnsNames: facts.dnsNames,
    ipAddresses: facts.ipAddresses.map(canonicalIp),
    isCa: facts.ca,
    publicKeyFingerprint256: spkiFingerprint(facts.spki),
  };
  return {
    pem,
    info,
    node,
    commonName: facts.commonName,
    ca: facts.ca,
    pathLength: facts.pathLength,
    keyCertSign: facts.keyCertSign,
    name: `"${info.subject}" (serial ${info.serial})`,
  };
}

/** Parses every CERTIFICATE block of `texts`, reporting anything else as `pem_invalid` under `what`. */
function loadCerts(texts: string[], what: string, problems: Problem[]): Cert[] {
  const certs: Cert[] = [];
  texts.forEach((text, i) => {
    const where = texts.length > 1 ? `${what} #${i + 1}` : what;
    const parsed = parsePemBlocks(text);
    if (!parsed.ok) {
      for (const p of parsed.problems) problems.push({ rule: 'pem_invalid', message: `${where}: ${p.message}` });
      return;
    }
    if (parsed.blocks.length === 0) problems.push({ rule: 'pem_invalid', message: `${where}: no PEM block` });
    for (const block of parsed.blocks) {
      if (block.label !== 'CERTIFICATE') {
        problems.push({ rule: 'pem_invalid', message: `${where}: unexpected ${block.label} block` });
        continue;
      }
      try {
        certs.push(parseCert(block.pem));
      } catch {
        problems.push({ rule: 'pem_invalid', message: `${where}: a CERTIFICATE block does not parse as X.509` });
      }
    }
  });
  return certs;
}

function signedBy(child: Cert, issuer: Cert): boolean {
  try {
    return child.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}

function isSelfSigned(cert: Cert): boolean {
  return cert.info.subject === cert.info.issuer && signedBy(cert, cert);
}

function sameKeyAndSubject(a: Cert, b: Cert): boolean {
  return a.info.subject === b.info.subject && a.info.publicKeyFingerprint256 === b.info.publicKeyFingerprint256;
}

type PathEnd = 'anchor' | 'self_signed' | 'no_issuer';

/**
 * Depth-first path building. At each step an anchor whose subject equals the current
 * issuer and whose key verifies the signature ends the path; otherwise each pool cert
 * matching by subject and signature is tried in turn. The first path ending at an
 * anchor wins; failing that, the first path explored is reported.
 */
function buildPath(start: Cert, pool: Cert[], anchors: Cert[]): { path: Cert[]; end: PathEnd } {
  const search = (path: Cert[]): { path: Cert[]; end: PathEnd } => {
    const current = path[path.length - 1];
    const anchor = anchors.find((a) => a.info.subject === current.info.issuer && signedBy(current, a));
    if (anchor) return { path: [...path, anchor], end: 'anchor' };
    let first: { path: Cert[]; end: PathEnd } | undefined;
    if (path.length < MAX_PATH) {
      for (const candidate of pool) {
        if (path.includes(candidate) || candidate.info.subject !== current.info.issuer) continue;
        if (!signedBy(current, candidate)) continue;
        const result = search([...path, candidate]);
        if (result.end === 'anchor') return result;
        first ??= result;
      }
    }
    return first ?? { path, end: isSelfSigned(current) ? 'self_signed' : 'no_issuer' };
  };
  return search([start]);
}

function dateProblems(cert: Cert, now: Date): Problem[] {
  if (now < cert.info.notBefore) return [{ rule: 'not_yet_valid', message: `${cert.name} is not valid before ${cert.info.notBefore.toISOString()}` }];
  if (now > cert.info.notAfter) return [{ rule: 'expired', message: `${cert.name} expired at ${cert.info.notAfter.toISOString()}` }];
  return [];
}

/** Builds and checks the path from `start` to an anchor: links, CA constraints, dates. */
function checkPath(opts: { start: Cert; pool: Cert[]; anchors: Cert[]; now: Date }): { path: Cert[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const add = (rule: string, message: string) => problems.push({ rule, message });
  const { path, end } = buildPath(opts.start, opts.pool, opts.anchors);
  const last = path[path.length - 1];

  if (end === 'self_signed') {
    add('untrusted_anchor', `the path ends at ${last.name}, which is not a trust anchor`);
  } else if (end === 'no_issuer') {
    const sameDn = [...opts.pool, ...opts.anchors].filter((c) => c !== last && c.info.subject === last.info.issuer);
    for (const c of sameDn) {
      add('signature_invalid', `the signature of ${last.name} does not verify with the key of ${c.name}`);
    }
    add('chain_incomplete', `no issuer "${last.info.issuer}" of ${last.name} among the chain and trust anchors`);
  }

  path.forEach((cert, i) => {
    problems.push(...dateProblems(cert, opts.now));
    if (i === 0) return;
    const subject = path[i - 1].name;
    if (!cert.ca) add('issuer_not_ca', `${cert.name} signs ${subject} but is not a CA (basicConstraints cA is not set)`);
    if (!cert.keyCertSign) add('issuer_no_keycertsign', `${cert.name} signs ${subject} but its key usage lacks keyCertSign`);
    const below = path.slice(1, i).filter((c) => c.info.subject !== c.info.issuer).length;
    if (cert.pathLength !== undefined && below > cert.pathLength) {
      add('path_length_exceeded', `${cert.name} allows ${cert.pathLength} intermediate CA(s) below it, the path has ${below}`);
    }
  });
  return { path, problems };
}

function checkRequest(leaf: Cert, request: IssuanceRequest): Problem[] {
  const problems: Problem[] = [];
  const cn = request.commonName;
  const allowCn = cn !== undefined && !request.excludeCnFromSans;
  const wantDns = (request.altNames ?? []).filter((n) => !n.includes('@')).map((n) => n.toLowerCase());
  const wantIps = (request.ipSans ?? []).map(canonicalIp);
  const haveDns = leaf.info.dnsNames.map((n) => n.toLowerCase());
  const haveIps = leaf.info.ipAddresses;

  for (const n of wantDns) if (!haveDns.includes(n)) problems.push({ rule: 'san_missing', message: `${leaf.name} lacks the requested DNS name ${n}` });
  for (const ip of wantIps) if (!haveIps.includes(ip)) problems.push({ rule: 'san_missing', message: `${leaf.name} lacks the requested IP ${ip}` });
  for (const n of haveDns) {
    if (!wantDns.includes(n) && !(allowCn && n === cn.toLowerCase())) {
      problems.push({ rule: 'san_unexpected', message: `${leaf.name} carries the DNS name ${n}, which was not requested` });
    }
  }
  for (const ip of haveIps) {
    if (!wantIps.includes(ip) && !(allowCn && ip === canonicalIp(cn))) {
      problems.push({ rule: 'san_unexpected', message: `${leaf.name} carries the IP ${ip}, which was not requested` });
    }
  }
  if (cn !== undefined && leaf.commonName !== cn) {
    problems.push({ rule: 'cn_mismatch', message: `${leaf.name} has common name "${leaf.commonName ?? ''}", requested "${cn}"` });
  }
  return problems;
}

function dedupe(problems: Problem[]): Problem[] {
  const unique = new Map(problems.map((p) => [`${p.rule}\n${p.message}`, p]));
  return [...unique.values()];
}

function result(opts: { leaf?: Cert; path: Cert[]; problems: Problem[]; warnings: Problem[] }): ValidationResult {
  const problems = dedupe(opts.problems);
  if (problems.length > 0 || !opts.leaf) return { ok: false, problems, warnings: opts.warnings };
  return { ok: true, leaf: opts.leaf.info, chain: opts.path.map((c) => c.info), warnings: opts.warnings };
}

/**
 * Validates what an issuance returned, before anything is written. The response's
 * chain is only a pool of candidate intermediates: trust comes from `anchors` alone,
 * matched by subject AND by a verifying signature (hence the same key). Collects every
 * problem it can find.
 */
export function validateIssuance(input: ValidateIssuanceInput): ValidationResult {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const leafCerts = loadCerts([input.certificate], 'certificate', problems);
  if (leafCerts.length > 1) problems.push({ rule: 'pem_invalid', message: `certificate holds ${leafCerts.length} certificates, expected one` });
  const chain = loadCerts(input.chain, 'chain', problems);
  const anchors = loadCerts(input.anchors, 'trust anchor', problems);
  const leaf = leafCerts[0];

  const key = input.privateKey === undefined ? undefined : parsePrivateKey(input.privateKey);
  if (key && !key.ok) problems.push(...key.problems);
  if (!leaf) return result({ path: [], problems, warnings });

  if (key?.ok && !leaf.node.checkPrivateKey(key.key)) {
    problems.push({ rule: 'key_mismatch', message: `the private key does not belong to ${leaf.name}` });
  }
  const pool = chain.filter((c, i) => c.info.fingerprint256 !== leaf.info.fingerprint256 && chain.findIndex((d) => d.info.fingerprint256 === c.info.fingerprint256) === i);
  const checked = checkPath({ start: leaf, pool, anchors, now: input.now });
  problems.push(...checked.problems);
  if (input.request) problems.push(...checkRequest(leaf, input.request));

  for (const c of pool) {
    if (!checked.path.includes(c) && !anchors.some((a) => sameKeyAndSubject(a, c))) {
      warnings.push({ rule: 'chain_unused', message: `chain certificate ${c.name} is not part of the path to the trust anchor` });
    }
  }
  return result({ leaf, path: checked.path, problems, warnings });
}

export type CertificateFileResult =
  | { kind: 'not_pem'; problems: Problem[] }
  | { kind: 'key_only'; ok: boolean; problems: Problem[] }
  | { kind: 'certificates'; result: ValidationResult };

/**
 * Validates one rendered file.
 * - It does not parse as PEM (or holds no block) → `not_pem`, with the reasons: the
 *   caller writes it as consul-template would, with a warning.
 * - No CERTIFICATE block → `key_only`: every block must be a parseable private key
 *   (or a PUBLIC KEY, e.g. a service-account public key).
 * - Bundle vs leaf: when EVERY certificate in the file has basicConstraints cA=true the
 *   file is a CA bundle (ca.pem): each certificate must itself be a trust anchor (same
 *   subject and key) or build a valid path to one through the file's other certificates;
 *   `leaf` is the first certificate and `chain` its path. Otherwise the first
 *   certificate is the leaf and the others are its chain, validated as an issuance
 *   without a request; its key is the file's own private key block when present
 *   (cert+key bundles), else `privateKeyPem`.
 * Blocks other than certificates and keys (e.g. DH PARAMETERS) are ignored with a
 * `pem_block_ignored` warning.
 */
export function validateCertificateFile(input: { content: string; privateKeyPem?: string; anchors: string[]; now: Date }): CertificateFileResult {
  const parsed = parsePemBlocks(input.content);
  if (!parsed.ok) return { kind: 'not_pem', problems: parsed.problems };
  if (parsed.blocks.length === 0) return { kind: 'not_pem', problems: [{ rule: 'pem_invalid', message: 'no PEM block' }] };

  const certBlocks = parsed.blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certBlocks.length === 0) {
    const problems = parsed.blocks.flatMap(keyFileProblems);
    return { kind: 'key_only', ok: problems.length === 0, problems };
  }

  const ignored = parsed.blocks
    .filter((b) => !['CERTIFICATE', 'PUBLIC KEY', ...PRIVATE_KEY_LABELS].includes(b.label))
    .map((b) => ({ rule: 'pem_block_ignored', message: `the ${b.label} block is not validated` }));
  const problems: Problem[] = [];
  const certs = loadCerts(certBlocks.map((b) => b.pem), 'certificate', problems);
  const isBundle = certs.length === certBlocks.length && certs.every((c) => c.ca);
  if (!isBundle) {
    const fileKey = parsed.blocks.filter((b) => PRIVATE_KEY_LABELS.includes(b.label)).map((b) => b.pem).join('');
    const res = validateIssuance({
      certificate: certBlocks[0].pem,
      privateKey: fileKey || input.privateKeyPem,
      chain: certBlocks.slice(1).map((b) => b.pem),
      anchors: input.anchors,
      now: input.now,
    });
    return { kind: 'certificates', result: { ...res, warnings: [...res.warnings, ...ignored] } };
  }

  const anchors = loadCerts(input.anchors, 'trust anchor', problems);
  const paths = certs.map((cert) => {
    // A certificate that is itself an anchor is trusted as is: only its dates matter.
    if (anchors.some((a) => sameKeyAndSubject(a, cert))) {
      problems.push(...dateProblems(cert, input.now));
      return [cert];
    }
    const checked = checkPath({ start: cert, pool: certs.filter((c) => c !== cert), anchors, now: input.now });
    problems.push(...checked.problems);
    return checked.path;
  });
  return { kind: 'certificates', result: result({ leaf: certs[0], path: paths[0], problems, warnings: ignored }) };
}

function keyFileProblems(block: PemBlock): Problem[] {
  if (block.label === 'PUBLIC KEY') {
    try {
      createPublicKey({ key: block.der, format: 'der', type: 'spki' });
      return [];
    } catch {
      return [{ rule: 'key_invalid', message: 'the PUBLIC KEY block does not decode as a public key' }];
    }
  }
  if (PRIVATE_KEY_LABELS.includes(block.label)) {
    const parsed = parsePrivateKey(block.pem);
    return parsed.ok ? [] : parsed.problems;
  }
  return [{ rule: 'pem_invalid', message: `unexpected ${block.label} block in a key file` }];
}

/** Facts about one certificate. Throws CR_PEM_INVALID when `pem` is not exactly one parseable certificate. */
export function certificateInfo(pem: string): LeafInfo {
  const problems: Problem[] = [];
  const certs = loadCerts([pem], 'certificate', problems);
  if (problems.length > 0 || certs.length !== 1) {
    throw new CertrenderError('CR_PEM_INVALID', problems[0]?.message ?? `expected one certificate, found ${certs.length}`, {
      hint: 'pass a single PEM CERTIFICATE block',
    });
  }
  return certs[0].info;
}

/** SHA-256 fingerprint of one certificate (see LeafInfo.fingerprint256). */
export function fingerprintOf(pem: string): string {
  return certificateInfo(pem).fingerprint256;
}
