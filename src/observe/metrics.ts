/**
 * /metrics (prom-client) and /healthz for the daemon, only when `listen` is set
 * (prom-client is not loaded otherwise). /healthz turns unhealthy (503) when a
 * certificate is past its renewal point and could not be renewed.
 */
import { createServer, type Server } from 'node:http';
import type { CycleReport } from '../cycle/run-cycle.js';

export interface Metrics {
  observeCycle(report: CycleReport, notAfterByDestination: Map<string, Date>): void;
  cycleFailed(): void;
  tokenRenewal(outcome: 'ok' | 'failed'): void;
  close(): Promise<void>;
  address(): string;
}

export async function startMetrics(opts: { listen: string; now: () => Date }): Promise<Metrics> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const g = (name: string, help: string, labelNames: string[] = []) => new prom.Gauge({ name, help, labelNames, registers: [registry] });
  const c = (name: string, help: string, labelNames: string[] = []) => new prom.Counter({ name, help, labelNames, registers: [registry] });
  const notAfter = g('certrender_certificate_not_after_seconds', 'notAfter of the certificate at each destination (unix seconds)', ['destination']);
  const renewAt = g('certrender_issuance_renew_at_seconds', 'renewal point of each issuance (unix seconds)', ['path']);
  const issuances = c('certrender_issuances_total', 'issuances by reason', ['reason']);
  const vaultRequests = c('certrender_vault_requests_total', 'backend requests by kind', ['kind']);
  const vaultErrors = c('certrender_vault_errors_total', 'backend requests that failed, by HTTP status (or network, bad_response, local)', ['status']);
  const cycleSeconds = new prom.Histogram({ name: 'certrender_cycle_duration_seconds', help: 'render cycle duration', registers: [registry], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
  const lastSuccess = g('certrender_last_successful_cycle_seconds', 'end of the last cycle without failure (unix seconds)');
  const cycles = c('certrender_cycles_total', 'cycles by outcome', ['outcome']);
  const hookRuns = c('certrender_hook_runs_total', 'hook runs by hook and outcome', ['hook', 'outcome']);
  const tokenRenewals = c('certrender_vault_token_renewals_total', 'renewals (or replacing logins) of the Vault token by outcome', ['outcome']);
  let overdue: string[] = [];

  const server: Server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
    } else if (req.url === '/healthz') {
      const ok = overdue.length === 0;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok, overdue }) + '\n');
    } else {
      res.writeHead(404).end();
    }
  });
  const m = /^(.*):(\d+)$/.exec(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m ? m[2] : opts.listen), m ? m[1].replace(/^\[|\]$/g, '') || '127.0.0.1' : '127.0.0.1', resolve);
  });
  server.unref();

  return {
    observeCycle(report, notAfterByDestination) {
      for (const [d, t] of notAfterByDestination) notAfter.set({ destination: d }, t.getTime() / 1000);
      for (const i of report.issuances) {
        if (i.renewAt) renewAt.set({ path: i.path }, Date.parse(i.renewAt) / 1000);
        if (i.action === 'issue') issuances.inc({ reason: String(i.reason) });
      }
      vaultRequests.inc({ kind: 'read' }, report.requests.reads);
      vaultRequests.inc({ kind: 'write' }, report.requests.writes);
      for (const [status, n] of Object.entries(report.requests.errorsByStatus)) vaultErrors.inc({ status }, n);
      cycleSeconds.observe(report.durationMs / 1000);
      cycles.inc({ outcome: report.ok ? 'ok' : 'failed' });
      if (report.ok) lastSuccess.set(opts.now().getTime() / 1000);
      for (const h of report.hooks) if (h.status !== 'would_run') hookRuns.inc({ hook: h.name, outcome: h.status });
      // Unhealthy: an issuance was due (past its renewal point, missing or changed) and could not be made.
      overdue = report.issuances.filter((i) => i.action === 'failed' || i.action === 'rejected').map((i) => i.path);
    },
    cycleFailed() {
      cycles.inc({ outcome: 'error' });
    },
    tokenRenewal(outcome) {
      tokenRenewals.inc({ outcome });
    },
    close: () => new Promise((r) => server.close(() => r())),
    address: () => {
      const a = server.address();
      return typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a);
    },
  };
}
