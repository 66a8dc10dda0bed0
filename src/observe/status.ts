/**
 * `certrender status`: what is on disk for every destination, like
 * `kubeadm certs check-expiration`: subject, issuer, not-after, residual time, the
 * stored renewal point and a state. Reads only; creates nothing.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { parsePemBlocks } from '../pki/pem.js';
import { createIssuanceStore } from '../state/issuance-store.js';

export interface StatusRow {
  destination: string;
  kind: 'certificate' | 'ca_bundle' | 'private_key' | 'other' | 'missing';
  subject?: string;
  issuer?: string;
  notAfter?: string;
  residual?: string;
  renewAt?: string;
  state: 'ok' | 'renew_due' | 'expired' | 'not_yet_valid' | 'missing' | 'unreadable' | 'n/a';
}

function cnOf(dn: string): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(dn);
  return m ? m[1] : dn.replace(/\n/g, ', ');
}

export function collectStatus(opts: { loaded: LoadedConfig; stateDir: string; now: Date }): StatusRow[] {
  const store = createIssuanceStore(opts.stateDir);
  const records = store.list();
  return opts.loaded.config.template.map((t): StatusRow => {
    const destination = resolve(opts.loaded.baseDir, t.destination);
    let text: string;
    try {
      text = readFileSync(destination, 'utf8');
    } catch (e) {
      return { destination, kind: 'missing', state: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable' };
    }
    const parsed = parsePemBlocks(text);
    const certs = parsed.ok ? parsed.blocks.filter((b) => b.label === 'CERTIFICATE') : [];
    if (certs.length === 0) {
      const isKey = parsed.ok && parsed.blocks.some((b) => b.label.endsWith('PRIVATE KEY'));
      return { destination, kind: isKey ? 'private_key' : 'other', state: 'n/a' };
    }
    let x: X509Certificate;
    try {
      x = new X509Certificate(certs[0].der);
    } catch {
      return { destination, kind: 'other', state: 'unreadable' };
    }
    const notAfter = new Date(x.validTo);
    const notBefore = new Date(x.validFrom);
    const record = records.find((r) => r.destinations.includes(destination) && r.leafFingerprint256 === x.fingerprint256);
    const renewAt = record ? new Date(record.renewAt) : undefined;
    let state: StatusRow['state'] = 'ok';
    if (opts.now > notAfter) state = 'expired';
    else if (opts.now < notBefore) state = 'not_yet_valid';
    else if (renewAt && opts.now >= renewAt) state = 'renew_due';
    return {
      destination,
      kind: x.ca ? 'ca_bundle' : 'certificate',
      subject: cnOf(x.subject),
      issuer: cnOf(x.issuer),
      notAfter: notAfter.toISOString(),
      residual: formatDuration(notAfter.getTime() - opts.now.getTime()),
      renewAt: renewAt?.toISOString(),
      state,
    };
  });
}

/** A fixed-width table for people. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function formatStatus(rows: StatusRow[]): string {
  const short = (iso?: string) => (iso ? iso.replace(/:\d\d\.\d+Z$/, 'Z').replace('T', ' ') : '-');
  return formatTable(
    ['DESTINATION', 'KIND', 'SUBJECT', 'ISSUER', 'NOT AFTER', 'RESIDUAL', 'RENEW AT', 'STATE'],
    rows.map((r) => [r.destination, r.kind, r.subject ?? '-', r.issuer ?? '-', short(r.notAfter), r.residual ?? '-', short(r.renewAt), r.state]),
  );
}
