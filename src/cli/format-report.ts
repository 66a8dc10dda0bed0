/** Human output of `once` and `plan` on stdout. Pure. */
import type { CycleReport } from '../cycle/run-cycle.js';
import { scrubSecrets } from '../observe/logger.js';
import { formatTable } from '../observe/status.js';

export function formatReport(r: CycleReport): string {
  const plan = r.mode === 'plan';
  const out: string[] = [];
  if (r.issuances.length) {
    out.push(
      formatTable(
        ['ISSUANCE', 'ACTION', 'REASON', 'FOR', 'RENEW AT'],
        r.issuances.map((i) => [
          i.path,
          i.action,
          String(i.reason),
          i.destinations.map((d) => d.split('/').pop()).join(', '),
          i.renewAt ? i.renewAt.replace(/\.\d+Z$/, 'Z') : '-',
        ]),
      ),
    );
  }
  for (const c of r.calls.filter((c) => c.status !== 'fetched' && c.status !== 'cached')) out.push(`${c.kind} ${c.path}: ${c.status}${c.error ? `: ${c.error}` : ''}\n`);
  const verb = (a: string) => (plan && ['create', 'update', 'mode', 'owner'].includes(a) ? `would ${a}` : a);
  out.push(
    formatTable(
      ['FILE', 'ACTION', 'MODE', 'DETAIL'],
      r.files.map((f) => [f.destination, verb(f.action), f.mode ?? '-', f.reason ?? '']),
    ),
  );
  if (r.hooks.length) {
    out.push(
      formatTable(
        ['HOOK', 'ORDER', 'PHASE', 'STATUS', 'DETAIL'],
        r.hooks.map((h) => {
          const full = h as { gate?: { ok: boolean; attempts: number; detail: string }; reason?: string; durationMs?: number };
          const detail = full.reason ?? (full.gate ? `gate ok after ${full.gate.attempts} attempt(s): ${full.gate.detail}` : full.durationMs !== undefined ? `${full.durationMs} ms` : '');
          return [h.name, String(h.order), h.phase, h.status, detail];
        }),
      ),
    );
  }
  for (const w of r.warnings) out.push(`warning: ${w}\n`);
  for (const g of r.groups.filter((g) => g.status === 'rejected' || g.status === 'failed' || g.status === 'rolled_back')) {
    out.push(`error: group [${g.destinations.join(', ')}] ${g.status === 'rolled_back' ? 'rolled back to the files it had before this run' : `${g.status}, nothing of it was written`}:\n`);
    for (const p of g.problems) out.push(`  - ${p}\n`);
  }
  out.push(summaryLine(r) + '\n');
  return scrubSecrets(out.join('\n'));
}

export function summaryLine(r: CycleReport): string {
  const count = (xs: { action?: string; status?: string }[], k: string) => xs.filter((x) => (x.action ?? x.status) === k).length;
  const issued = count(r.issuances, 'issue');
  const reused = count(r.issuances, 'reuse');
  const wouldIssue = count(r.issuances, 'would_issue');
  const changed = r.files.filter((f) => ['create', 'update', 'mode', 'owner'].includes(f.action)).length;
  const unchanged = count(r.files, 'unchanged');
  const bad = r.groups.filter((g) => g.status === 'rejected' || g.status === 'failed' || g.status === 'rolled_back').length;
  const hookFailures = r.hooks.filter((h) => h.status === 'failed').length;
  if (r.mode === 'plan') {
    const wouldRun = r.hooks.length ? `; hooks in order: ${r.hooks.map((h) => h.name).join(', ')}` : '';
    return `plan: ${wouldIssue} to issue, ${reused} to reuse; ${changed} file(s) to write, ${unchanged} unchanged, ${count(r.files, 'unknown')} depending on new issuances${bad ? `; ${bad} group(s) failing` : ''}${wouldRun}`;
  }
  if (issued === 0 && changed === 0 && bad === 0 && hookFailures === 0) {
    return `nothing to do: ${reused} issuance(s) reused, ${unchanged} file(s) unchanged, 0 Vault writes`;
  }
  const ran = r.hooks.filter((h) => h.status === 'ok').length;
  return `${issued} issued, ${reused} reused; ${changed} file(s) written, ${unchanged} unchanged${bad ? `; ${bad} group(s) NOT written or rolled back` : ''}${r.hooks.length ? `; ${ran} hook run(s) ok, ${hookFailures} failed` : ''}`;
}

/** `-dry` compatibility: the contents of the files that need no new issuance, private keys redacted. */
export function formatContents(r: CycleReport): string {
  const out: string[] = [];
  for (const f of r.files) {
    const c = r.contents?.get(f.destination);
    if (c === undefined) continue;
    out.push(`> ${f.destination}\n${scrubSecrets(c)}`);
  }
  return out.join('\n');
}
