/**
 * The embedded local CA: the default for trying certrender without Vault. It answers
 * the PKI subset of Vault's API with Vault's response shapes, so one template runs
 * against either:
 *   <mount>/issue/<role>, <mount>/sign/<role>, <mount>/issuer/<ref>/{issue,sign}/<role>,
 *   <mount>/cert/ca, <mount>/cert/ca_chain
 * and KV v2 (<mount>/data/<path> with check-and-set, <mount>/metadata/<path>) stored in
 * the state directory. Any mount and role are accepted; each mount gets its own CA,
 * created on first use under <state>/local-ca/<mount>/ (key mode 0600, never printed).
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { CertrenderError } from '../errors.js';
import type { LocalCaConfig } from '../config/schema.js';
import type { Backend, RequestStats } from './backend.js';
import type { VaultResponse } from '../template/vault-response.js';
import { parseDuration } from '../config/duration.js';
import { ensureDir, readJsonIfExists, writeFileAtomicSync } from '../state/state-dir.js';
import { exportPrivateKey, generateKey, keyTypeFromParams, toWebPrivate, toWebPublic, webAlgorithm } from './key-gen.js';
import { loadX509 } from './x509-lib.js';

interface LocalCa {
  certPem: string;
  key: KeyObject;
  notAfter: Date;
  subject: string;
}

interface KvEntry {
  key?: string;
  current_version: number;
  versions: Record<string, { data: Record<string, unknown>; created_time: string }>;
}

const PKI_ISSUE = /^(.+?)\/(?:issuer\/[^/]+\/)?(issue|sign)\/([^/]+)$/;
const PKI_CA = /^(.+?)\/cert\/(ca|ca_chain)$/;
const KV_DATA = /^(.+?)\/(data|metadata)\/(.+)$/;

function response(data: Record<string, unknown>, warnings: string[] = []): VaultResponse {
  return { request_id: randomUUID(), lease_id: '', lease_duration: 0, renewable: false, data, warnings: warnings.length ? warnings : null };
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

function splitList(v: unknown): string[] {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : Array.isArray(v) ? v.map(String) : [];
}

/** Vault's serial format: lowercase hex pairs joined by ":". */
function vaultSerial(hex: string): string {
  return hex.toLowerCase().match(/.{2}/g)!.join(':');
}

function mountDir(stateDir: string, kind: 'local-ca' | 'local-kv', mount: string): string {
  return join(stateDir, kind, mount.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

/** A cross-process lock by exclusive create, for KV check-and-set. */
async function withLock<T>(lockPath: string, fn: () => T): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(lockPath, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(lockPath).mtimeMs > 10_000) unlinkSync(lockPath); // stale
      } catch {
        /* raced with its owner */
      }
      if (i > 500) throw new CertrenderError('CR_STATE_LOCKED', `lock ${lockPath} is held`, { hint: 'remove it if no certrender is running' });
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(lockPath);
  }
}

export function createLocalCaBackend(opts: { stateDir: string; config: LocalCaConfig; readOnly: boolean; now?: () => Date }): Backend {
  const now = opts.now ?? (() => new Date());
  const counts: RequestStats = { reads: 0, writes: 0, errors: 0, errorsByStatus: {} };
  const cas = new Map<string, Promise<LocalCa>>();

  function loadCa(mount: string): LocalCa | undefined {
    const dir = mountDir(opts.stateDir, 'local-ca', mount);
    if (!existsSync(join(dir, 'ca.pem'))) return undefined;
    const certPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const key = createPrivateKey(readFileSync(join(dir, 'ca-key.pem')));
    const x = new X509Certificate(certPem);
    return { certPem, key, notAfter: new Date(x.validTo), subject: x.subject };
  }

  async function createCa(mount: string): Promise<LocalCa> {
    const x509 = await loadX509();
    const pair = generateKey(opts.config.ca_key_type);
    const { signAlg } = webAlgorithm(pair.privateKey);
    const notBefore = new Date(now().getTime() - 60_000);
    const notAfter = new Date(notBefore.getTime() + opts.config.ca_ttl);
    const publicKey = await toWebPublic(pair.publicKey);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
      name: `CN=${escapeDn(opts.config.common_name)}${mount === 'pki' ? '' : `,OU=${escapeDn(mount)}`}`,
      notBefore,
      notAfter,
      signingAlgorithm: signAlg,
      keys: { privateKey: await toWebPrivate(pair.privateKey), publicKey },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    });
    const dir = mountDir(opts.stateDir, 'local-ca', mount);
    ensureDir(dir);
    writeFileAtomicSync(join(dir, 'ca-key.pem'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
    writeFileAtomicSync(join(dir, 'ca.pem'), cert.toString('pem') + '\n', 0o644);
    return { certPem: cert.toString('pem') + '\n', key: pair.privateKey, notAfter, subject: cert.subject };
  }

  function ca(mount: string, create: boolean): Promise<LocalCa | undefined> {
    const existing = cas.get(mount);
    if (existing) return existing;
    const loaded = loadCa(mount);
    if (loaded) {
      const p = Promise.resolve(loaded);
      cas.set(mount, p);
      return p;
    }
    if (!create) return Promise.resolve(undefined);
    const p = createCa(mount);
    cas.set(mount, p);
    p.catch(() => cas.delete(mount));
    return p;
  }

  function notCreated(mount: string): CertrenderError {
    return new CertrenderError('CR_LOCAL_CA', `the local CA for mount "${mount}" does not exist yet`, {
      hint: 'it is created by the first `certrender once`; `plan` creates nothing',
      context: { mount },
    });
  }

  async function issue(m: RegExpExecArray, body: Record<string, unknown>): Promise<VaultResponse> {
    const [, mount, op] = m;
    const authority = await ca(mount, true);
    if (!authority) throw notCreated(mount);
    const x509 = await loadX509();
    const params = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]));
    const warnings: string[] = [];
    let publicKeyObj: KeyObject;
    let privatePem: { pem: string; type: string } | undefined;
    let cn = params.common_name;
    const dns = splitList(params.alt_names);
    const ips = splitList(params.ip_sans);
    if (op === 'sign') {
      if (!params.csr) throw new CertrenderError('CR_LOCAL_CA', `${m[0]}: "csr" is required for sign`, { context: { path: m[0] } });
      let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
      try {
        csr = new x509.Pkcs10CertificateRequest(params.csr);
      } catch (e) {
        throw new CertrenderError('CR_LOCAL_CA', `${m[0]}: the csr does not parse`, { cause: e, context: { path: m[0] } });
      }
      if (!(await csr.verify())) throw new CertrenderError('CR_LOCAL_CA', `${m[0]}: the csr signature does not verify`);
      publicKeyObj = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
      cn ||= csr.subjectName.getField('CN')[0];
      const san = csr.extensions.find((e): e is InstanceType<typeof x509.SubjectAlternativeNameExtension> => e instanceof x509.SubjectAlternativeNameExtension);
      for (const n of san?.names.items ?? []) {
        if (n.type === 'dns') dns.push(n.value);
        if (n.type === 'ip') ips.push(n.value);
      }
    } else {
      const pair = generateKey(keyTypeFromParams(params, opts.config.key_type));
      publicKeyObj = pair.publicKey;
      privatePem = exportPrivateKey(pair.privateKey, params.private_key_format === 'pkcs8');
    }
    if (!cn && dns.length === 0 && ips.length === 0) {
      throw new CertrenderError('CR_LOCAL_CA', `${m[0]}: common_name is required`, { context: { path: m[0] } });
    }
    if (cn && params.exclude_cn_from_sans !== 'true') {
      if (isIP(cn)) ips.unshift(cn);
      else dns.unshift(cn);
    }
    let ttl = params.ttl ? parseDuration(params.ttl) : opts.config.ttl;
    if (ttl === undefined) throw new CertrenderError('CR_LOCAL_CA', `${m[0]}: ttl "${params.ttl}" is not a duration`);
    if (ttl > opts.config.max_ttl) {
      warnings.push(`TTL of "${params.ttl}" exceeded the effective max_ttl of "${opts.config.max_ttl / 1000}s"; TTL value is capped accordingly`);
      ttl = opts.config.max_ttl;
    }
    const notBefore = new Date(now().getTime() - 30_000);
    let notAfter = new Date(now().getTime() + ttl);
    if (notAfter > authority.notAfter) {
      warnings.push('the requested TTL goes past the CA expiry; notAfter is capped at the CA notAfter');
      notAfter = authority.notAfter;
    }
    const caPublic = createPublicKey(authority.key);
    const caCert = new x509.X509Certificate(authority.certPem);
    const leafPublic = await toWebPublic(publicKeyObj);
    const serialHex = randomBytes(16).toString('hex').replace(/^[89a-f]/, '2');
    const unique = (xs: string[]) => [...new Set(xs)];
    const names = [...unique(dns).map((value) => ({ type: 'dns' as const, value })), ...unique(ips).map((value) => ({ type: 'ip' as const, value }))];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex,
      subject: cn ? `CN=${escapeDn(cn)}` : '',
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: leafPublic,
      signingKey: await toWebPrivate(authority.key),
      signingAlgorithm: webAlgorithm(caPublic).signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.SubjectKeyIdentifierExtension.create(leafPublic),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    const caPem = authority.certPem.trim();
    const data: Record<string, unknown> = {
      certificate: cert.toString('pem'),
      issuing_ca: caPem,
      ca_chain: [caPem],
      serial_number: vaultSerial(serialHex),
      expiration: Math.floor(notAfter.getTime() / 1000),
    };
    if (privatePem) {
      data.private_key = privatePem.pem.trim();
      data.private_key_type = privatePem.type;
    }
    return response(data, warnings);
  }

  async function kv(m: RegExpExecArray, write: boolean, body?: Record<string, unknown>): Promise<VaultResponse> {
    const [, mount, kind, key] = m;
    const dir = mountDir(opts.stateDir, 'local-kv', mount);
    const file = join(dir, createHash('sha256').update(key).digest('hex').slice(0, 32) + '.json');
    const notFound = () =>
      new CertrenderError('CR_VAULT_HTTP', `${m[0]}: no value stored (local KV)`, { context: { path: m[0], status: 404 } });
    if (!write) {
      const entry = readJsonIfExists<KvEntry>(file);
      if (!entry) throw notFound();
      const v = entry.versions[String(entry.current_version)];
      const metadata = { version: entry.current_version, created_time: v.created_time, deletion_time: '', destroyed: false };
      return kind === 'data'
        ? response({ data: v.data, metadata })
        : response({ current_version: entry.current_version, versions: Object.fromEntries(Object.entries(entry.versions).map(([n, x]) => [n, { created_time: x.created_time }])) });
    }
    if (kind !== 'data') throw new CertrenderError('CR_LOCAL_UNSUPPORTED_PATH', `${m[0]}: the local KV accepts writes to <mount>/data/<path> only`);
    if (opts.readOnly) throw new CertrenderError('CR_INTERNAL', `refusing a KV write in read-only mode: ${m[0]}`);
    const data = body?.data;
    if (!data || typeof data !== 'object') throw new CertrenderError('CR_VAULT_HTTP', `${m[0]}: body must hold "data"`, { context: { status: 400 } });
    const cas = (body?.options as { cas?: unknown } | undefined)?.cas;
    ensureDir(dir);
    return withLock(file + '.lock', () => {
      const entry = readJsonIfExists<KvEntry>(file) ?? { key, current_version: 0, versions: {} };
      if (cas !== undefined && Number(cas) !== entry.current_version) {
        throw new CertrenderError('CR_KV_CAS', `${m[0]}: check-and-set parameter did not match the current version`, {
          context: { path: m[0], status: 400, cas: Number(cas), current: entry.current_version },
        });
      }
      const version = entry.current_version + 1;
      const created_time = now().toISOString();
      entry.versions[String(version)] = { data: data as Record<string, unknown>, created_time };
      entry.current_version = version;
      writeFileAtomicSync(file, JSON.stringify(entry), 0o600);
      return response({ version, created_time, deletion_time: '', destroyed: false });
    });
  }

  /** LIST <mount>/metadata/<prefix>: the keys directly under prefix, folders with a trailing "/". */
  function kvList(mount: string, prefix: string): VaultResponse {
    const dir = mountDir(opts.stateDir, 'local-kv', mount);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    } catch {
      /* nothing stored yet */
    }
    const base = prefix.replace(/\/*$/, '') ? prefix.replace(/\/*$/, '') + '/' : '';
    const keys = new Set<string>();
    for (const n of names) {
      const k = readJsonIfExists<KvEntry>(join(dir, n))?.key;
      if (!k || !k.startsWith(base)) continue;
      const rest = k.slice(base.length);
      keys.add(rest.includes('/') ? rest.slice(0, rest.indexOf('/') + 1) : rest);
    }
    if (keys.size === 0) throw new CertrenderError('CR_VAULT_HTTP', `${mount}/metadata/${prefix}: nothing to list (local KV)`, { context: { status: 404 } });
    return response({ keys: [...keys].sort() });
  }

  async function route(method: 'read' | 'write' | 'list', path: string, body?: Record<string, unknown>): Promise<VaultResponse> {
    const clean = path.replace(/^\/+/, '');
    if (method === 'list') {
      const l = /^(.+?)\/(?:metadata|data)\/?(.*)$/.exec(clean);
      if (l) return kvList(l[1], l[2]);
    }
    let m = PKI_ISSUE.exec(clean);
    if (m && method === 'write') {
      if (opts.readOnly) throw new CertrenderError('CR_INTERNAL', `refusing an issuance in read-only mode: ${clean}`);
      return issue(m, body ?? {});
    }
    m = PKI_CA.exec(clean);
    if (m && method === 'read') {
      const authority = await ca(m[1], !opts.readOnly);
      if (!authority) throw notCreated(m[1]);
      const pem = authority.certPem.trim();
      return response(m[2] === 'ca' ? { certificate: pem } : { certificate: pem, ca_chain: pem + '\n' });
    }
    m = KV_DATA.exec(clean);
    if (m && method !== 'list') return kv(m, method === 'write', body);
    throw new CertrenderError('CR_LOCAL_UNSUPPORTED_PATH', `the local CA backend does not serve ${method} "${clean}"`, {
      hint: 'local_ca answers <mount>/issue|sign/<role>, <mount>/cert/ca, <mount>/cert/ca_chain and KV v2 <mount>/data/<path>; use Vault for anything else',
      context: { path: clean },
    });
  }

  const counted = (method: 'read' | 'write' | 'list') => async (path: string, body?: Record<string, unknown>) => {
    counts[method === 'write' ? 'writes' : 'reads']++;
    try {
      return await route(method, path, body);
    } catch (e) {
      counts.errors++;
      counts.errorsByStatus.local = (counts.errorsByStatus.local ?? 0) + 1;
      throw e;
    }
  };
  return { kind: 'local', read: counted('read'), list: counted('list'), write: counted('write'), stats: () => ({ ...counts, errorsByStatus: { ...counts.errorsByStatus } }) };
}
