/**
 * A Vault call made by a template, and its identity. consul-template's rules:
 * `secret "path"` is a read; as soon as any argument follows it is a write; each
 * argument splits on the first "=", key and value trimmed, values stay strings.
 * Identical path + argument set (order does not matter) anywhere in the cycle is ONE
 * request, shared by all templates. Pure.
 */
import { createHash } from 'node:crypto';
import { CertrenderError } from '../errors.js';

export interface VaultCall {
  /** 'list' is `secrets PATH` (a Vault LIST); 'shared_key' is `sharedKey NAME` (path = the name). */
  kind: 'read' | 'write' | 'list' | 'shared_key';
  path: string;
  params: Record<string, string>;
  /** `sharedKeyCert`: a sign request whose CSR the cycle builds from this shared key. */
  sharedKey?: { name: string; fingerprint: string };
}

/** Normalise a template's arguments into a call. Accepts "k=v" strings and plain objects. */
export function makeCall(path: unknown, args: unknown[]): VaultCall {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new CertrenderError('CR_TEMPLATE_FUNCTION', `secret/pkiCert needs a path string as first argument, got ${JSON.stringify(path)}`);
  }
  const params: Record<string, string> = {};
  for (const a of args) {
    if (a === undefined || a === null) continue;
    if (typeof a === 'object' && !Array.isArray(a)) {
      for (const [k, v] of Object.entries(a as Record<string, unknown>)) params[k.trim()] = String(v).trim();
      continue;
    }
    const s = String(a);
    const eq = s.indexOf('=');
    if (eq < 0) {
      throw new CertrenderError('CR_TEMPLATE_FUNCTION', `argument "${s}" to ${path} is not of the form key=value`);
    }
    params[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  const clean = path.trim().replace(/^\/+/, '').replace(/^v1\//, '');
  return { kind: args.length > 0 ? 'write' : 'read', path: clean, params };
}

/** `secrets PATH`: a LIST of the keys under path. */
export function makeListCall(path: unknown): VaultCall {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new CertrenderError('CR_TEMPLATE_FUNCTION', `secrets needs a path string, got ${JSON.stringify(path)}`);
  }
  return { kind: 'list', path: path.trim().replace(/^\/+/, '').replace(/^v1\//, '').replace(/\/+$/, ''), params: {} };
}

/** `sharedKey NAME`. */
export function makeSharedKeyCall(name: unknown): VaultCall {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new CertrenderError('CR_TEMPLATE_FUNCTION', `sharedKey/sharedKeyCert need a shared_key name as first argument, got ${JSON.stringify(name)}`);
  }
  return { kind: 'shared_key', path: name.trim(), params: {} };
}

/**
 * `sharedKeyCert NAME PATH ARGS...`: a write to <mount>/sign/<role> identified by the
 * shared key's name and active fingerprint, never by the CSR (built at fetch time).
 */
export function makeSharedKeyCertCall(opts: { name: string; fingerprint: string; path: unknown; args: unknown[] }): VaultCall {
  const call = makeCall(opts.path, opts.args.length ? opts.args : [{}]);
  if (issuanceTarget(call)?.op !== 'sign') {
    throw new CertrenderError('CR_TEMPLATE_FUNCTION', `sharedKeyCert "${opts.name}": ${call.path} is not a <mount>/sign/<role> path`, {
      hint: 'the certificate is signed from a CSR of the shared key: use pki/sign/<role> (not issue)',
    });
  }
  return { ...call, sharedKey: { name: opts.name, fingerprint: opts.fingerprint } };
}

export function callId(call: VaultCall): string {
  const keys = Object.keys(call.params).sort();
  const sorted = keys.map((k) => [k, call.params[k]]);
  const shared = call.sharedKey ? ` shared_key=${call.sharedKey.name}@${call.sharedKey.fingerprint}` : '';
  return `${call.kind} ${call.path} ${JSON.stringify(sorted)}${shared}`;
}

export function shortHash(text: string, len = 16): string {
  return createHash('sha256').update(text).digest('hex').slice(0, len);
}

const ISSUE_RE = /^(.+?)\/(?:issuer\/[^/]+\/)?(issue|sign)\/([^/]+)$/;

/** A write to <mount>/issue/<role>, <mount>/sign/<role> or <mount>/issuer/<ref>/{issue,sign}/<role>. */
export function issuanceTarget(call: VaultCall): { mount: string; op: 'issue' | 'sign'; role: string } | undefined {
  if (call.kind !== 'write') return undefined;
  const m = ISSUE_RE.exec(call.path);
  if (!m) return undefined;
  return { mount: m[1], op: m[2] as 'issue' | 'sign', role: m[3] };
}

/** Names and IPs a PKI request asks for (for validation of the leaf). */
export function requestedNames(params: Record<string, string>): {
  commonName?: string;
  altNames: string[];
  ipSans: string[];
  excludeCnFromSans: boolean;
} {
  const list = (v?: string) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  return {
    commonName: params.common_name || undefined,
    altNames: list(params.alt_names),
    ipSans: list(params.ip_sans),
    excludeCnFromSans: params.exclude_cn_from_sans === 'true',
  };
}

const LIST_PARAMS = ['alt_names', 'ip_sans', 'uri_sans', 'other_sans'];

/**
 * The body sent for an issuance. Comma lists are sent without the spaces fleets put
 * after the commas ("alt_names=a, b"): OpenBao 2.x does not trim them and silently drops
 * such a name from the certificate (validation would then reject the issuance).
 */
export function issuanceBody(params: Record<string, string>): Record<string, string> {
  const out = { ...params };
  for (const k of LIST_PARAMS) {
    if (out[k] !== undefined) out[k] = out[k].split(',').map((s) => s.trim()).filter(Boolean).join(',');
  }
  return out;
}
