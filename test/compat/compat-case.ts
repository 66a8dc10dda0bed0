/**
 * The consul-template golden cases under test/compat/<case>/ and what runs them.
 *
 * A case is a directory: `config.hcl` (a consul-template config whose `{{VAULT_ADDR}}` is
 * filled in), its Go templates, `setup.json` (what OpenBao needs) and `expected.json`
 * (what the rendered files must be). Paths in configs and templates are relative: both
 * certrender and `bao agent` run with the case's work directory as cwd.
 *
 * setup.json:
 *   pki: [{ mount, common_name, ttl, parent?, roles?: { name: params } }]  (parent: signed by that mount's CA)
 *   kv:  { "<mount>/data/<path>": data }                                   (KV v2 writes)
 *   env: { NAME: value }                                                   (environment of the renderer)
 * expected.json:
 *   issues: PKI issue writes of a first run
 *   files: { path: FileExpectation } (exactly these files, and no others, are rendered)
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBao } from '../../scripts/provision.mjs';
import type { OpenBao } from '../helpers/openbao.js';
import { makeTempDir } from '../helpers/tmp.js';

export const CASES_DIR = fileURLToPath(new URL('.', import.meta.url));

export interface PkiSetup {
  mount: string;
  common_name: string;
  ttl: string;
  parent?: string;
  roles?: Record<string, Record<string, unknown>>;
}

export interface CaseSetup {
  pki?: PkiSetup[];
  kv?: Record<string, Record<string, unknown>>;
  env?: Record<string, string>;
}

export interface FileExpectation {
  /** Exact bytes; `${ca:MOUNT}` stands for that mount's CA certificate PEM (trimmed). */
  text?: string;
  /** The bytes with every PEM block replaced by `<LABEL>`: block labels, order and layout. */
  skeleton?: string;
  /** The first certificate: verified by this mount's CA, with this CN and these DNS / IP SANs (any order). */
  issuer?: string;
  cn?: string;
  dns?: string[];
  ip?: string[];
  /** The certificate blocks after the first are these mounts' CA certificates, in order. */
  chain?: string[];
  /** The file's private key matches the first certificate of that file. */
  keyOf?: string;
  /** Octal file mode, e.g. "0600". */
  mode?: string;
  /** The renderer must warn about this file (certrender: it does not parse as PEM). */
  warning?: boolean;
}

export interface CompatCase {
  name: string;
  dir: string;
  setup: CaseSetup;
  expected: { issues: number; files: Record<string, FileExpectation> };
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

export function loadCases(): CompatCase[] {
  return readdirSync(CASES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const dir = join(CASES_DIR, name);
      return { name, dir, setup: readJson(join(dir, 'setup.json')), expected: readJson(join(dir, 'expected.json')) };
    });
}

/**
 * Applies a case's setup to a server; idempotent, so cases can share mounts (a mount that
 * exists keeps its CA, roles are rewritten). Returns every PKI mount's CA certificate.
 */
export async function applySetup(bao: OpenBao, setup: CaseSetup): Promise<Record<string, string>> {
  const mounts = (await bao.api('GET', 'sys/mounts')).data as Record<string, unknown>;
  const cas: Record<string, string> = {};
  for (const pki of setup.pki ?? []) {
    if (!(`${pki.mount}/` in mounts)) {
      await bao.api('POST', `sys/mounts/${pki.mount}`, { type: 'pki' });
      await bao.api('POST', `sys/mounts/${pki.mount}/tune`, { max_lease_ttl: pki.ttl });
      if (pki.parent) {
        const csr = await bao.api('POST', `${pki.mount}/intermediate/generate/internal`, { common_name: pki.common_name });
        const signed = await bao.api('POST', `${pki.parent}/root/sign-intermediate`, { csr: csr.data.csr, common_name: pki.common_name, ttl: pki.ttl });
        // the parent's certificate too, so that the mount knows (and returns) the whole chain
        const parentCa = (await bao.api('GET', `${pki.parent}/cert/ca`)).data.certificate;
        await bao.api('POST', `${pki.mount}/intermediate/set-signed`, { certificate: `${signed.data.certificate}\n${parentCa}` });
      } else {
        await bao.api('POST', `${pki.mount}/root/generate/internal`, { common_name: pki.common_name, ttl: pki.ttl });
      }
    }
    for (const [role, params] of Object.entries(pki.roles ?? {})) await bao.api('POST', `${pki.mount}/roles/${role}`, params);
    cas[pki.mount] = (await bao.api('GET', `${pki.mount}/cert/ca`)).data.certificate.trim();
  }
  for (const [path, data] of Object.entries(setup.kv ?? {})) await bao.api('POST', path, { data });
  return cas;
}

/** A fresh work directory holding the case's files, `{{VAULT_ADDR}}` filled in. */
export async function workDir(c: CompatCase, addr: string, prefix = 'compat'): Promise<string> {
  const dir = await makeTempDir(`${prefix}-${c.name}`);
  cpSync(c.dir, dir, { recursive: true });
  const config = join(dir, 'config.hcl');
  writeFileSync(config, readFileSync(config, 'utf8').replaceAll('{{VAULT_ADDR}}', addr));
  return dir;
}

const CASE_FILES = new Set(['config.hcl', 'setup.json', 'expected.json']);

/** Every rendered file of a work directory (relative path -> bytes): all but the case's own files. */
export function renderedFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (at: string) => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, e.name);
      if (e.isDirectory()) walk(path);
      else if (!(at === dir && (CASE_FILES.has(e.name) || e.name.endsWith('.tpl')))) out.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** The text with every PEM block replaced by `<LABEL>`. */
export const skeleton = (text: string) => text.replace(PEM_BLOCK, (_, label: string) => `<${label}>`);

export const pemBlocks = (text: string) => [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1], pem: m[0] }));

/** The file's first certificate and its key, if the text holds them. */
function firstCert(text: string): X509Certificate | undefined {
  const block = pemBlocks(text).find((b) => b.label === 'CERTIFICATE');
  return block && new X509Certificate(block.pem);
}

/** Whether the private key in `keyText` belongs to the first certificate in `certText`. */
export function keyMatches(keyText: string, certText: string): boolean {
  const cert = firstCert(certText);
  const key = pemBlocks(keyText).find((b) => b.label.endsWith('PRIVATE KEY'));
  return !!cert && !!key && cert.checkPrivateKey(createPrivateKey(key.pem));
}

/** The first certificate's CN and SANs (sorted), or undefined when the text holds no certificate. */
export function certNames(text: string): { cn?: string; dns: string[]; ip: string[] } | undefined {
  const cert = firstCert(text);
  return cert && { cn: /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1], dns: sans(cert, 'DNS'), ip: sans(cert, 'IP Address') };
}

const sans = (cert: X509Certificate, kind: 'DNS' | 'IP Address') =>
  (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith(`${kind}:`))
    .map((s) => s.slice(kind.length + 1))
    .sort();

/** Problems of a work directory against a case's expected files, as readable lines; [] when it matches. */
export function checkFiles(opts: { dir: string; expected: Record<string, FileExpectation>; cas: Record<string, string> }): string[] {
  const { dir, expected, cas } = opts;
  const files = renderedFiles(dir);
  const problems: string[] = [];
  const fill = (s: string) => s.replace(/\$\{ca:([^}]+)\}/g, (_, m: string) => cas[m] ?? `<no CA for ${m}>`);
  const extra = [...files.keys()].filter((f) => !(f in expected));
  if (extra.length) problems.push(`unexpected files: ${extra.join(', ')}`);
  for (const [name, want] of Object.entries(expected)) {
    const bytes = files.get(name);
    if (!bytes) {
      problems.push(`${name}: missing`);
      continue;
    }
    const text = bytes.toString('utf8');
    const bad = (what: string) => problems.push(`${name}: ${what}`);
    if (want.text !== undefined && text !== fill(want.text)) bad(`bytes differ:\n  want ${JSON.stringify(fill(want.text))}\n  got  ${JSON.stringify(text)}`);
    if (want.skeleton !== undefined && skeleton(text) !== want.skeleton) bad(`PEM layout ${JSON.stringify(skeleton(text))}, want ${JSON.stringify(want.skeleton)}`);
    if (want.mode !== undefined) {
      const mode = (statSync(join(dir, name)).mode & 0o7777).toString(8).padStart(4, '0');
      if (mode !== want.mode) bad(`mode ${mode}, want ${want.mode}`);
    }
    if (want.keyOf !== undefined) {
      const certText = files.get(want.keyOf)?.toString('utf8') ?? '';
      if (!keyMatches(text, certText)) bad(`private key does not match the certificate in ${want.keyOf}`);
    }
    if (want.issuer ?? want.cn ?? want.dns ?? want.ip ?? want.chain) {
      const cert = firstCert(text);
      if (!cert) {
        bad('no certificate');
        continue;
      }
      if (want.issuer && !cert.verify(new X509Certificate(cas[want.issuer]).publicKey)) bad(`not signed by ${want.issuer}'s CA`);
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
      if (want.cn !== undefined && cn !== want.cn) bad(`CN ${cn}, want ${want.cn}`);
      if (want.dns && sans(cert, 'DNS').join() !== [...want.dns].sort().join()) bad(`DNS SANs ${sans(cert, 'DNS')}, want ${[...want.dns].sort()}`);
      if (want.ip && sans(cert, 'IP Address').join() !== [...want.ip].sort().join()) bad(`IP SANs ${sans(cert, 'IP Address')}, want ${[...want.ip].sort()}`);
      if (want.chain) {
        const rest = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE').slice(1).map((b) => b.pem.trim());
        if (rest.join('\n') !== want.chain.map((m) => cas[m]).join('\n')) bad(`chain is not the CA certificates of ${want.chain.join(', ')}, in that order`);
      }
    }
  }
  return problems;
}

/** PKI issue/sign writes in the audit log so far. */
export async function issueWrites(bao: OpenBao): Promise<number> {
  const entries = await bao.auditEntries();
  return entries.filter((e) => e.type === 'request' && ['create', 'update'].includes(e.request.operation) && /\/(issue|sign)\//.test(e.request.path)).length;
}

/**
 * `bao agent` renders a work directory (its cwd) from the case's config plus what an Agent
 * file adds: token_file auto-auth and exit after the first render. Config and token live
 * outside the work directory.
 */
export async function runAgent(opts: { dir: string; bao: OpenBao; env?: Record<string, string> }): Promise<{ code: number | null; output: string }> {
  const own = await makeTempDir('compat-agent');
  const token = join(own, 'token');
  writeFileSync(token, `${opts.bao.token}\n`, { mode: 0o600 });
  const config = join(own, 'agent.hcl');
  const agentBlocks = `
auto_auth {
  method "token_file" {
    config = {
      token_file_path = ${JSON.stringify(token)}
    }
  }
}

exit_after_auth = true

template_config {
  exit_on_retry_failure = true
}
`;
  writeFileSync(config, readFileSync(join(opts.dir, 'config.hcl'), 'utf8') + agentBlocks);
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env };
  return new Promise((resolve, reject) => {
    execFile(resolveBao()!, ['agent', `-config=${config}`], { cwd: opts.dir, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? (err.code as number) : 0, output: stdout + stderr });
    });
  });
}
