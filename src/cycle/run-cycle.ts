/**
 * One render cycle, the spine of certrender (DESIGN.md "One render cycle"):
 *  1. snapshot the outputs on disk;
 *  2. discover every Vault call by rendering with a recording stub;
 *  3. decide per issuance: reuse (with reason) or issue;
 *  4. fetch: reads first, then issuances, bounded concurrency;
 *  5. render for real from the fetched data;
 *  6. plan groups against the snapshot;
 *  7. validate every changed group (issuances were validated when fetched);
 *  8. swap each group atomically;
 *  9. (hooks: a later stage plugs in here, fed by the report's changed groups);
 * 10. report.
 * `plan` is the same cycle with mode "plan": no write endpoint is called, nothing is
 * written, the state directory is not created.
 */
import { dirname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { CertrenderError } from '../errors.js';
import type { LoadedConfig, TemplateConfig } from '../config/schema.js';
import { limitRequests, NO_REQUESTS, statsSince, type Backend, type RequestStats } from '../issuer/backend.js';
import { errorFields, type Logger } from '../observe/logger.js';
import { engineFor, loadEngine, type CompiledTemplate, type EngineName, type TemplateEngine } from '../template/engine.js';
import { createRuntime, type FileWrite } from '../template/runtime.js';
import { callId, issuanceBody, issuanceTarget, makeSharedKeyCall, requestedNames, shortHash, type VaultCall } from '../template/vault-call.js';
import type { SharedKeyMaterial } from '../shared-key/shared-key-value.js';
import type { VaultResponse } from '../template/vault-response.js';
import { createIssuanceStore, slotFor, type IssuanceRecord, type IssuanceStore } from '../state/issuance-store.js';
import { decideIssuance, drawRenewAt, type IssuanceReason } from '../pki/renewal.js';
import { publicKeyFingerprints } from '../pki/fingerprint.js';
import { isPemLike } from '../pki/pem.js';
import { planGroups, type DesiredOutput, type OnDisk, type PlannedGroup } from '../plan/plan-groups.js';
import { resolveOwner } from '../fs/owner.js';
import { snapshotFiles } from '../fs/snapshot.js';
import { runHookPhase, type PhaseHookReport } from './hook-phase.js';

export type CycleMode = 'apply' | 'plan';

export interface CycleOptions {
  loaded: LoadedConfig;
  mode: CycleMode;
  stateDir: string;
  logger: Logger;
  now: () => Date;
  random: () => number;
  /** Destinations (absolute) whose issuances are re-issued regardless; "all" for every one. */
  forceRenew: string[];
  env: NodeJS.ProcessEnv;
  /** Injected backend (tests); otherwise chosen by the config. */
  backend?: Backend;
  /**
   * Opens the backend on first use instead of `openBackend` below: the daemon keeps one
   * Vault session (its login token) across cycles.
   */
  openBackend?: () => Promise<Backend>;
  /** Test hook: called at named points of the swap (see src/fs/swap-group.ts). */
  pause?: (point: string) => Promise<void>;
  /**
   * Daemon: for a renewal that is due, when it may run (maintenance windows); a date
   * after `now` defers it, keeping the current issuance. Expiry is the caller's concern.
   */
  deferRenewal?: (info: { destinations: string[]; notAfter: Date; now: Date }) => Date | undefined;
  /** Keep rendered contents in the report (plan's `--contents`, consul-template's -dry). */
  collectContents?: boolean;
}

export interface IssuanceReport {
  id: string;
  path: string;
  destinations: string[];
  action: 'reuse' | 'issue' | 'would_issue' | 'rejected' | 'failed';
  reason: IssuanceReason | string;
  serial?: string;
  notAfter?: string;
  renewAt?: string;
  problems?: string[];
}

export interface FileReport {
  destination: string;
  template: string;
  group: string;
  action: 'create' | 'update' | 'mode' | 'owner' | 'unchanged' | 'unknown' | 'rejected' | 'failed' | 'rolled_back';
  mode?: string;
  reason?: string;
}

export interface GroupReport {
  id: string;
  destinations: string[];
  status: 'written' | 'would_write' | 'unchanged' | 'unknown' | 'rejected' | 'failed' | 'rolled_back';
  problems: string[];
}

export interface CycleReport {
  mode: CycleMode;
  ok: boolean;
  stateDir: string;
  backend?: 'vault' | 'local';
  issuances: IssuanceReport[];
  calls: { kind: VaultCall['kind']; path: string; status: 'fetched' | 'cached' | 'would_call' | 'failed'; error?: string }[];
  files: FileReport[];
  groups: GroupReport[];
  /** Hooks run (apply, then rollback if a rollback policy fired), or that would run (plan). */
  hooks: PhaseHookReport[];
  warnings: string[];
  requests: RequestStats;
  nextRenewal?: string;
  /** When the earliest read used in this cycle is due to be fetched again. */
  nextRefresh?: string;
  durationMs: number;
  /** Rendered contents by destination, only with collectContents. May hold secrets: print only through scrubSecrets. */
  contents?: Map<string, string>;
}

interface Prepared {
  index: number;
  name: string;
  destination: string;
  config: TemplateConfig;
  compiled?: CompiledTemplate;
  error?: string;
  uid?: number;
  gid?: number;
  /** The source names writeToFile: its outputs are known only once rendered with data. */
  writesFiles?: boolean;
}

type Blocked = { status: 'unknown' | 'failed' | 'rejected'; reason: string };

/** What finishing a set of templates produced: its outputs and groups, and how each group ended. */
interface Finished {
  outputs: DesiredOutput[];
  groups: PlannedGroup[];
  disk: Map<string, OnDisk>;
  results: Map<string, GroupReport['status']>;
  groupProblems: Map<string, string[]>;
  appendMarks: Map<string, string>;
}

const MAX_DISCOVERY_PASSES = 5;

async function prepareTemplates(loaded: LoadedConfig): Promise<Prepared[]> {
  const engines = new Map<EngineName, TemplateEngine>();
  const out: Prepared[] = [];
  for (const [index, t] of loaded.config.template.entries()) {
    const destination = resolve(loaded.baseDir, t.destination);
    const name = t.source !== undefined ? resolve(loaded.baseDir, t.source) : `template.${index} (contents)`;
    const p: Prepared = { index, name, destination, config: t };
    try {
      p.uid = resolveOwner('user', t.user, `template.${index}`);
      p.gid = resolveOwner('group', t.group, `template.${index}`);
      let text: string;
      if (t.source !== undefined) {
        try {
          text = readFileSync(name, 'utf8');
        } catch (e) {
          throw new CertrenderError('CR_TEMPLATE_READ', `template.${index}: cannot read source ${name}: ${(e as NodeJS.ErrnoException).code}`, {
            hint: 'check the template block\'s "source" path (relative paths resolve against the working directory)',
            cause: e,
          });
        }
      } else {
        text = t.contents!;
      }
      p.writesFiles = /\bwriteToFile\b/.test(text);
      const engineName = engineFor(t);
      let engine = engines.get(engineName);
      if (!engine) engines.set(engineName, (engine = await loadEngine(engineName)));
      p.compiled = engine.compile({
        text,
        name,
        leftDelimiter: t.left_delimiter,
        rightDelimiter: t.right_delimiter,
        errorOnMissingKey: t.error_on_missing_key,
      });
    } catch (e) {
      if (!(e instanceof CertrenderError)) throw e;
      p.error = e.message + (e.hint ? ` (${e.hint})` : '');
    }
    out.push(p);
  }
  return out;
}

/** Group swaps in flight at once (libuv runs 4 fs operations at a time). */
const SWAP_CONCURRENCY = 8;

/** Run `fn` over items with at most `limit` in flight. */
async function boundedAll<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

const PKI_CA_READ = /^(.+?)\/cert\/(ca|ca_chain)$/;

/** The backend a config names: its embedded local CA, else Vault/OpenBao. */
export async function openBackend(opts: { loaded: LoadedConfig; stateDir: string; apply: boolean; now: () => Date; env: NodeJS.ProcessEnv; logger: Logger }): Promise<Backend> {
  const { config } = opts.loaded;
  if (config.local_ca) {
    const { createLocalCaBackend } = await import('../issuer/local-ca-backend.js');
    return createLocalCaBackend({ stateDir: opts.stateDir, config: config.local_ca, readOnly: !opts.apply, now: opts.now });
  }
  const { resolveVaultSettings } = await import('../vault/vault-settings.js');
  const { createVaultBackend } = await import('../vault/vault-backend.js');
  return createVaultBackend({ settings: resolveVaultSettings({ vault: config.vault, env: opts.env, baseDir: opts.loaded.baseDir }), logger: opts.logger });
}

export async function runCycle(opts: CycleOptions): Promise<CycleReport> {
  const started = Date.now();
  const { loaded, mode, logger } = opts;
  const config = loaded.config;
  const apply = mode === 'apply';
  const now = opts.now();
  const store: IssuanceStore = createIssuanceStore(opts.stateDir);
  const report: CycleReport = {
    mode,
    ok: true,
    stateDir: opts.stateDir,
    issuances: [],
    calls: [],
    files: [],
    groups: [],
    hooks: [],
    warnings: [...loaded.warnings],
    requests: NO_REQUESTS,
    durationMs: 0,
  };
  for (const w of loaded.warnings) logger.warn('config_warning', { message: w });

  if (apply) {
    const { recoverJournals } = await import('../fs/swap-group.js');
    const rec = await recoverJournals({ journalDir: resolve(opts.stateDir, 'journal'), log: (event, fields) => logger.warn(event, fields as Record<string, unknown>) });
    if (rec.rolledForward.length || rec.rolledBack.length) logger.warn('journal_recovered', { ...rec });
  }

  const templates = await prepareTemplates(loaded);
  for (const t of templates) if (t.error) logger.error('template_invalid', { template: t.name, destination: t.destination, message: t.error });

  // -- backend, opened on first use: a config whose templates call nothing needs no Vault.
  // Its request counts are reported per cycle (a daemon's backend outlives the cycle).
  let backend: Backend | undefined = opts.backend && limitRequests(opts.backend, config.max_concurrency);
  let opening: Promise<Backend> | undefined;
  let statsBase = NO_REQUESTS;
  const getBackend = (): Promise<Backend> => {
    if (backend) return Promise.resolve(backend);
    opening ??= (opts.openBackend ?? (() => openBackend({ loaded, stateDir: opts.stateDir, apply, now: opts.now, env: opts.env, logger })))().then((b) => {
      statsBase = b.stats();
      return (backend = limitRequests(b, config.max_concurrency));
    });
    return opening;
  };

  // -- trust anchors: the trust_anchor file, else the mount's CA pinned at its first issuance.
  let trustAnchor: string | undefined;
  if (config.trust_anchor) {
    const path = resolve(loaded.baseDir, config.trust_anchor);
    try {
      trustAnchor = readFileSync(path, 'utf8');
    } catch (e) {
      throw new CertrenderError('CR_CONFIG_READ', `trust_anchor ${path}: ${(e as NodeJS.ErrnoException).code}`, {
        hint: 'trust_anchor must name a readable PEM file of the CA certificates to trust',
        cause: e,
      });
    }
    if (publicKeyFingerprints(trustAnchor).length === 0) {
      throw new CertrenderError('CR_CONFIG_INVALID', `trust_anchor ${path} holds no parseable CERTIFICATE`, { hint: 'point it at the CA certificate (PEM)' });
    }
  }
  const anchorsFor = (mount: string): string | undefined => trustAnchor ?? store.getAnchor(mount);
  const pinning = new Map<string, Promise<string>>();
  const ensureAnchor = (mount: string): Promise<string> => {
    const known = anchorsFor(mount);
    if (known) return Promise.resolve(known);
    let p = pinning.get(mount);
    if (!p) {
      p = (async () => {
        // A template that renders the CA made this very read already: reuse its answer.
        const path = `${mount}/cert/ca`;
        // The backend that is already open is called at once (no await before it): the read
        // then takes the slot after the first issue request's, not one behind every other
        // issuance of the cycle, which all wait for the anchor before they are validated.
        const r = responses.get(callId({ kind: 'read', path, params: {} })) ?? (await (backend ?? (await getBackend())).read(path));
        const pem = String(r.data?.certificate ?? '');
        if (publicKeyFingerprints(pem).length === 0) {
          throw new CertrenderError('CR_VAULT_RESPONSE', `${mount}/cert/ca returned no CA certificate to pin`, {
            hint: 'does the PKI mount have a root or intermediate issuer? Or set trust_anchor in the config',
            context: { path: `${mount}/cert/ca` },
          });
        }
        store.pinAnchor(mount, pem);
        logger.info('anchor_pinned', { mount, fingerprints: publicKeyFingerprints(pem) });
        return pem;
      })();
      pinning.set(mount, p);
    }
    return p;
  };

  const force = (destinations: string[]) => opts.forceRenew.includes('all') || destinations.some((d) => opts.forceRenew.includes(d));
  const renewFraction = config.lease_renewal_threshold ?? config.renew?.fraction ?? 2 / 3;
  const renewJitter = config.renew?.jitter ?? 0.05;

  // -- discovery and fetch, until a render pass makes no unknown call.
  const responses = new Map<string, VaultResponse>();
  const blockedCalls = new Map<string, Blocked>();
  const callsOf = new Map<number, Map<string, VaultCall>>();
  const rendered = new Map<number, { content?: string; error?: string; writes: FileWrite[] }>();
  const issuanceRecords = new Map<string, IssuanceRecord>();
  let nextRefresh: number | undefined;
  const noteRefresh = (t: number) => {
    nextRefresh = nextRefresh === undefined ? t : Math.min(nextRefresh, t);
  };
  /** Issuances made in this cycle, with the record they replaced (for a rollback). */
  const issuedNow = new Map<string, { record: IssuanceRecord; previous?: IssuanceRecord }>();

  const fetchOne = async (call: VaultCall, destinations: string[]): Promise<void> => {
    const id = callId(call);
    const target = issuanceTarget(call);
    try {
      if (call.kind === 'shared_key') return await fetchSharedKey(call);
      if (!target) {
        if (call.kind === 'write' && !apply) {
          blockedCalls.set(id, { status: 'unknown', reason: `would call write ${call.path}` });
          report.calls.push({ kind: call.kind, path: call.path, status: 'would_call' });
          return;
        }
        if (call.kind !== 'write') {
          const cached = store.getRead(id);
          if (cached && now.getTime() - Date.parse(cached.fetchedAt) < config.static_secret_render_interval) {
            noteRefresh(Date.parse(cached.fetchedAt) + config.static_secret_render_interval);
            responses.set(id, cached.response);
            report.calls.push({ kind: call.kind, path: call.path, status: 'cached' });
            return;
          }
        }
        const b = await getBackend();
        const resp = call.kind === 'read' ? await b.read(call.path) : call.kind === 'list' ? await b.list(call.path) : await b.write(call.path, call.params);
        if (call.kind !== 'write' && apply) store.putRead(id, { version: 1, path: call.path, fetchedAt: now.toISOString(), response: resp });
        if (call.kind !== 'write') noteRefresh(now.getTime() + config.static_secret_render_interval);
        responses.set(id, resp);
        report.calls.push({ kind: call.kind, path: call.path, status: 'fetched' });
        return;
      }
      await fetchIssuance(call, target.mount, destinations);
    } catch (e) {
      if (!(e instanceof CertrenderError)) throw e;
      const reason = e.message;
      blockedCalls.set(id, { status: apply ? 'failed' : 'unknown', reason });
      if (target) report.issuances.push({ id: shortHash(id), path: call.path, destinations, action: 'failed', reason });
      else report.calls.push({ kind: call.kind, path: call.path, status: 'failed', error: reason });
      logger.error(target ? 'issuance_failed' : 'vault_call_failed', { path: call.path, destinations, error: errorFields(e) });
    }
  };

  /** `sharedKey NAME`: read (or, on apply, create race-free) the key at its KV path; never cached, never logged. */
  const fetchSharedKey = async (call: VaultCall): Promise<void> => {
    const declared = config.shared_key[call.path];
    if (!declared) {
      const known = Object.keys(config.shared_key);
      throw new CertrenderError('CR_TEMPLATE_FUNCTION', `sharedKey "${call.path}": no shared_key "${call.path}" block in the config${known.length ? ` (shared keys: ${known.join(', ')})` : ''}`, {
        hint: `declare it: shared_key "${call.path}" { kv_path = "<mount>/data/<path>", type = "rsa-2048" }`,
      });
    }
    const { ensureSharedKey, testBarrier } = await import('../shared-key/ensure-shared-key.js');
    const material = await ensureSharedKey({ backend: await getBackend(), name: call.path, config: declared, create: apply, logger, now: opts.now, beforeWrite: testBarrier(opts.env, call.path) });
    if (!material) {
      blockedCalls.set(callId(call), { status: 'unknown', reason: `would create shared key "${call.path}" at ${declared.kv_path}` });
      report.calls.push({ kind: call.kind, path: declared.kv_path, status: 'would_call' });
      return;
    }
    noteRefresh(now.getTime() + config.static_secret_render_interval);
    responses.set(callId(call), { data: material });
    report.calls.push({ kind: call.kind, path: declared.kv_path, status: 'fetched' });
  };

  const fetchIssuance = async (call: VaultCall, mount: string, destinations: string[]): Promise<void> => {
    const id = callId(call);
    const slot = slotFor(call.path, destinations);
    const requestHash = shortHash(id, 32);
    const stored = store.get(slot);
    const anchor = anchorsFor(mount);
    const decision = decideIssuance({
      stored: stored && {
        requestHash: stored.requestHash,
        notBefore: new Date(stored.notBefore),
        notAfter: new Date(stored.notAfter),
        renewAt: new Date(stored.renewAt),
        issuerPublicKeyFingerprint256: stored.issuerPublicKeyFingerprint256,
        valid: true,
      },
      requestHash,
      anchorPublicKeyFingerprints: anchor ? publicKeyFingerprints(anchor) : [],
      now,
      force: force(destinations),
    });
    const base = { id: shortHash(id), path: call.path, destinations };
    const quarantined = store.getQuarantine(slot);
    if (quarantined && quarantined.requestHash === requestHash && !force(destinations)) {
      const why = `the issuance ${quarantined.serial} for this request was rolled back (${quarantined.reason}); it is not applied again until the request changes or --force-renew`;
      logger.warn('issuance_quarantined', { path: call.path, destinations, serial: quarantined.serial });
      // Keep serving what is on disk: the issuance the rollback put back (its request may differ).
      if (stored && now < new Date(stored.notAfter)) {
        responses.set(id, stored.response);
        issuanceRecords.set(id, stored);
        report.issuances.push({ ...base, action: 'reuse', reason: 'quarantined', serial: stored.serial, notAfter: stored.notAfter, renewAt: stored.renewAt });
        return;
      }
      blockedCalls.set(id, { status: apply ? 'failed' : 'unknown', reason: why });
      report.issuances.push({ ...base, action: 'failed', reason: 'quarantined', problems: [why] });
      return;
    }
    // A renewal due now but outside the maintenance windows waits for the next one.
    if (decision.reason === 'in_window' && stored && opts.deferRenewal) {
      const until = opts.deferRenewal({ destinations, notAfter: new Date(stored.notAfter), now });
      if (until && until > now) {
        responses.set(id, stored.response);
        issuanceRecords.set(id, { ...stored, renewAt: until.toISOString() });
        report.issuances.push({ ...base, action: 'reuse', reason: 'deferred_to_window', serial: stored.serial, notAfter: stored.notAfter, renewAt: until.toISOString() });
        logger.info('renewal_deferred', { path: call.path, destinations, until: until.toISOString() });
        return;
      }
    }
    if (decision.action === 'reuse' && stored) {
      responses.set(id, stored.response);
      issuanceRecords.set(id, stored);
      report.issuances.push({ ...base, action: 'reuse', reason: 'reused', serial: stored.serial, notAfter: stored.notAfter, renewAt: stored.renewAt });
      logger.info('issuance_reused', { path: call.path, destinations, serial: stored.serial, renew_at: stored.renewAt });
      return;
    }
    if (!apply) {
      blockedCalls.set(id, { status: 'unknown', reason: `would issue (${decision.reason})` });
      report.issuances.push({ ...base, action: 'would_issue', reason: decision.reason });
      return;
    }
    const validator = import('../pki/validate.js');
    const b = await getBackend();
    // sharedKeyCert: the CSR of the active shared key the call was made with, and that key to validate against.
    const shared = call.sharedKey && (responses.get(callId(makeSharedKeyCall(call.sharedKey.name)))?.data as SharedKeyMaterial | undefined)?.active;
    if (call.sharedKey && shared?.fingerprint !== call.sharedKey.fingerprint) {
      throw new CertrenderError('CR_INTERNAL', `${call.path}: shared key "${call.sharedKey.name}" is not the one the request was made with`);
    }
    const body = issuanceBody(call.params);
    if (shared) body.csr = await (await import('../shared-key/shared-key-csr.js')).sharedKeyCsr({ privatePem: shared.privatePem, params: body });
    // The issue request goes first; then, while Vault issues, the validator loads and a
    // first issuance's anchor is read and pinned (the first issue request of a process no
    // longer waits for the anchor's, nor the anchor's for the issue's answer).
    const issuing = b.write(call.path, body);
    const anchoring = ensureAnchor(mount);
    anchoring.catch(() => {}); // awaited once the answer is in
    const resp = await issuing;
    const d = resp?.data;
    if (!d || typeof d.certificate !== 'string') {
      throw new CertrenderError('CR_VAULT_RESPONSE', `${call.path} answered without data.certificate`, { context: { path: call.path } });
    }
    const chain = [...(Array.isArray(d.ca_chain) ? d.ca_chain : d.ca_chain ? [d.ca_chain] : []), ...(d.issuing_ca ? [d.issuing_ca] : [])].map(String);
    const anchors = await anchoring;
    const { validateIssuance } = await validator;
    const result = validateIssuance({
      certificate: d.certificate,
      privateKey: shared?.privatePem ?? (typeof d.private_key === 'string' ? d.private_key : undefined),
      chain,
      anchors: [anchors],
      request: requestedNames(call.params),
      now: opts.now(),
    });
    for (const w of [...result.warnings, ...(resp.warnings ?? []).map((m) => ({ rule: 'vault_warning', message: m }))]) {
      // A root above the pinned anchor (an intermediate mount's ca_chain) is expected, not worth a warning.
      if (w.rule === 'chain_unused') {
        logger.debug('issuance_chain_unused', { path: call.path, message: w.message });
        continue;
      }
      logger.warn('issuance_warning', { path: call.path, destinations, rule: w.rule, message: w.message });
      report.warnings.push(`${call.path}: ${w.message}`);
    }
    if (!result.ok) {
      const problems = result.problems.map((p) => `${p.rule}: ${p.message}`);
      blockedCalls.set(id, { status: 'rejected', reason: `issuance from ${call.path} failed validation: ${problems.join('; ')}` });
      report.issuances.push({ ...base, action: 'rejected', reason: decision.reason, problems });
      logger.error('issuance_rejected', { path: call.path, destinations, rules: result.problems.map((p) => p.rule), problems });
      return;
    }
    const leaf = result.leaf;
    const renewAt = drawRenewAt({ notBefore: leaf.notBefore, notAfter: leaf.notAfter, fraction: renewFraction, jitter: renewJitter, random: opts.random });
    const record: IssuanceRecord = {
      version: 1,
      slot,
      path: call.path,
      destinations,
      requestHash,
      issuedAt: opts.now().toISOString(),
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      renewAt: renewAt.toISOString(),
      serial: leaf.serial,
      subject: leaf.subject,
      issuer: leaf.issuer,
      leafFingerprint256: leaf.fingerprint256,
      issuerPublicKeyFingerprint256: result.chain[result.chain.length - 1].publicKeyFingerprint256,
      reason: decision.reason,
      response: resp,
    };
    await store.putAsync(record);
    store.clearQuarantine(slot);
    issuedNow.set(slot, { record, previous: stored });
    responses.set(id, resp);
    issuanceRecords.set(id, record);
    report.issuances.push({ ...base, action: 'issue', reason: decision.reason, serial: record.serial, notAfter: record.notAfter, renewAt: record.renewAt });
    logger.info('issuance_issued', { path: call.path, destinations, reason: decision.reason, serial: record.serial, not_after: record.notAfter, renew_at: record.renewAt });
  };

  const journalDir = resolve(opts.stateDir, 'journal');
  const atomicDirs = new Map(config.atomic_dir.map((a) => [resolve(loaded.baseDir, a.path), a]));

  // -- finishing a set of templates: desired outputs, groups, validation, swap
  const writesOf = (index: number) => rendered.get(index)?.writes ?? [];
  const finish = async (subset: Prepared[]): Promise<Finished> => {
    // -- desired outputs: each template's destination, and its writeToFile targets in the same group
    const snaps = await snapshotFiles([...new Set(subset.flatMap((t) => [t.destination, ...writesOf(t.index).map((w) => w.path)]))]);
    const disk = new Map<string, OnDisk>(snaps.map((s) => [s.path, s]));
    const appendMarks = new Map<string, string>();
    const outputs: DesiredOutput[] = [];
    for (const t of subset) {
      const calls = [...(callsOf.get(t.index)?.entries() ?? [])];
      const links = [...calls.filter(([, c]) => issuanceTarget(c)).map(([id]) => id), `t:${t.index}`];
      const base = { index: t.index, name: t.name, destination: t.destination, links, perms: t.config.perms, uid: t.uid, gid: t.gid, backup: t.config.backup, createDirs: t.config.create_dest_dirs };
      const r = rendered.get(t.index);
      const blocked: Blocked | undefined = t.error
        ? { status: 'failed', reason: t.error }
        : (calls.map(([id]) => blockedCalls.get(id)).find((b) => b !== undefined) ??
          (r?.error !== undefined ? { status: 'failed', reason: r.error } : undefined));
      outputs.push(blocked ? { ...base, blocked } : { ...base, content: r!.content });
      if (blocked) continue;
      for (const w of writesOf(t.index)) {
        const where = `${t.name}: writeToFile ${w.path}`;
        let uid: number | undefined;
        let gid: number | undefined;
        let wBlocked: Blocked | undefined;
        try {
          uid = resolveOwner('user', w.user, where);
          gid = resolveOwner('group', w.group, where);
        } catch (e) {
          if (!(e instanceof CertrenderError)) throw e;
          wBlocked = { status: 'failed', reason: e.message };
        }
        const data = w.content + (w.flags.includes('newline') ? '\n' : '');
        let content = data;
        if (w.flags.includes('append')) {
          // Append only when the data changed since the last append, so an unchanged run writes nothing.
          const mark = shortHash(data, 32);
          const existing = disk.get(w.path)?.content?.toString('utf8') ?? '';
          content = store.getAppendMark(w.path) === mark ? existing : existing + data;
          appendMarks.set(w.path, mark);
        }
        outputs.push({
          ...base,
          destination: w.path,
          perms: w.mode,
          uid,
          gid,
          backup: false,
          createDirs: true,
          ...(wBlocked ? { blocked: wBlocked } : { content }),
        });
      }
    }
    const groups = planGroups({ outputs, disk });

    // -- validate the files that would change (unchanged bytes were validated when written)
    const anchorsOfTemplate = (index: number): string[] => {
      const mounts = new Set<string>();
      for (const c of callsOf.get(index)?.values() ?? []) {
        const m = issuanceTarget(c)?.mount ?? (c.kind === 'read' ? PKI_CA_READ.exec(c.path)?.[1] : undefined);
        if (m) mounts.add(m);
      }
      const list = [...mounts].map(anchorsFor).filter((a): a is string => a !== undefined);
      return trustAnchor ? [trustAnchor] : list;
    };
    const rejected = new Map<string, string[]>();
    for (const g of groups) {
      if (g.status !== 'changed') continue;
      const problems: string[] = [];
      for (const o of g.outputs) {
        if (o.change !== 'create' && o.change !== 'update') continue;
        const text = o.content!.toString('utf8');
        if (!isPemLike(text)) continue;
        const problem = await checkRenderedFile({ text, anchors: anchorsOfTemplate(o.index), now: opts.now() });
        if (problem === 'not_pem') {
          const msg = `${o.name} -> ${o.destination}: PEM markers are not on lines of their own (a chain printed as a Go list, or blocks glued together); written as consul-template would, not validated`;
          report.warnings.push(msg);
          logger.warn('file_not_pem', { template: o.name, destination: o.destination });
        } else if (problem) {
          problems.push(`${o.name} -> ${o.destination}: ${problem}`);
        }
      }
      if (problems.length) rejected.set(g.id, problems);
    }

    // -- swap
    const dirBatches = new Map<string, { groups: PlannedGroup[] }>();
    const results = new Map<string, GroupReport['status']>();
    const groupProblems = new Map<string, string[]>();
    const plain: PlannedGroup[] = [];
    for (const g of groups) {
      const dests = g.outputs.map((o) => o.destination);
      if (g.status === 'blocked') {
        const st = g.outputs.map((o) => outputs.find((x) => x.destination === o.destination)?.blocked?.status).find((s) => s !== undefined) ?? 'failed';
        results.set(g.id, st === 'unknown' ? 'unknown' : st === 'rejected' ? 'rejected' : 'failed');
        groupProblems.set(g.id, g.problems);
        continue;
      }
      if (rejected.has(g.id)) {
        results.set(g.id, 'rejected');
        groupProblems.set(g.id, rejected.get(g.id)!);
        continue;
      }
      if (g.status === 'unchanged') {
        results.set(g.id, 'unchanged');
        continue;
      }
      if (!apply) {
        results.set(g.id, 'would_write');
        continue;
      }
      const inAtomic = dests.map((d) => dirname(d)).find((d) => atomicDirs.has(d));
      if (inAtomic) {
        const batch = dirBatches.get(inAtomic) ?? { groups: [] };
        batch.groups.push(g);
        dirBatches.set(inAtomic, batch);
        continue;
      }
      plain.push(g);
    }
    // Groups share no file and each has its own journal: they swap side by side (each one's
    // dozens of fs round trips and fsyncs would otherwise queue behind the others').
    await boundedAll(plain, SWAP_CONCURRENCY, async (g) => {
      try {
        const changed = g.outputs.filter((o) => o.change !== 'none');
        await swapFiles({ groupId: g.id, outputs: changed, journalDir, pause: opts.pause });
        results.set(g.id, 'written');
      } catch (e) {
        if (!(e instanceof CertrenderError)) throw e;
        results.set(g.id, 'failed');
        groupProblems.set(g.id, [e.message]);
      }
    });
    for (const [dir, batch] of dirBatches) {
      const { swapAtomicDir } = await import('../fs/swap-group.js');
      const files = batch.groups.flatMap((g) => g.outputs.filter((o) => dirname(o.destination) === dir && o.change !== 'none'));
      const outside = batch.groups.flatMap((g) => g.outputs.filter((o) => dirname(o.destination) !== dir && o.change !== 'none'));
      try {
        await swapAtomicDir({
          dir,
          keep: atomicDirs.get(dir)!.keep,
          journalDir,
          pause: opts.pause,
          files: files.map((o) => ({ name: o.destination.slice(dir.length + 1), content: o.content!, mode: o.mode!, uid: o.uid, gid: o.gid })),
        });
        for (const g of batch.groups) {
          const rest = outside.filter((o) => g.outputs.includes(o));
          if (rest.length) await swapFiles({ groupId: g.id, outputs: rest, journalDir, pause: opts.pause });
          results.set(g.id, 'written');
        }
      } catch (e) {
        if (!(e instanceof CertrenderError)) throw e;
        for (const g of batch.groups) {
          results.set(g.id, 'failed');
          groupProblems.set(g.id, [e.message]);
        }
      }
    }
    return { outputs, groups, disk, results, groupProblems, appendMarks };
  };

  /**
   * Pass 0 of an apply: one gate per set of templates bound by an issuance or a destination
   * (the groups planGroups will make of them), waiting for that set's calls. When they are
   * answered, the set is rendered again; if it needs nothing more, it is finished now.
   */
  const streamingGates = (fetched: Map<string, Promise<void>>): Promise<void>[] => {
    const parent = templates.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
    const seen = new Map<string, number>();
    templates.forEach((t, i) => {
      const keys = [`d:${t.destination}`, ...[...(callsOf.get(t.index) ?? [])].filter(([, c]) => issuanceTarget(c)).map(([id]) => `l:${id}`)];
      for (const key of keys) {
        const prev = seen.get(key);
        if (prev === undefined) seen.set(key, i);
        else parent[find(i)] = find(prev);
      }
    });
    const sets = new Map<number, Prepared[]>();
    templates.forEach((t, i) => sets.set(find(i), [...(sets.get(find(i)) ?? []), t]));
    const gates: Promise<void>[] = [];
    for (const members of sets.values()) {
      if (members.some((t) => !t.compiled || t.writesFiles || atomicDirs.has(dirname(t.destination)))) continue;
      const waits = [...new Set(members.flatMap((t) => [...(callsOf.get(t.index)?.keys() ?? [])]))].map((id) => fetched.get(id)).filter((w) => w !== undefined);
      if (!waits.length) continue;
      gates.push(
        Promise.all(waits).then(() => {
          const unknown: Unknown = new Map();
          for (const t of members) renderOne(t, unknown);
          if (unknown.size > 0) return; // it needs more: the next pass renders it with the others
          for (const t of members) finalized.add(t.index);
          const done = finish(members);
          done.catch(() => {}); // awaited after the passes; this keeps an early failure from counting as unhandled
          finishing.push(done);
        }),
      );
    }
    return gates;
  };

  type Unknown = Map<string, { call: VaultCall; destinations: Set<string> }>;
  /** Renders template t against the responses so far; a call not answered yet goes to `unknown`. */
  const renderOne = (t: Prepared, unknown: Unknown) => {
    if (!t.compiled) return;
    const calls = new Map<string, VaultCall>();
    const writes: FileWrite[] = [];
    const runtime = createRuntime({
      onWrite: (w) => writes.push(w),
      now: opts.now,
      resolver: { lookup: (c) => responses.get(callId(c)) },
      onCall: (c, known) => {
        const id = callId(c);
        calls.set(id, c);
        if (!known && !blockedCalls.has(id)) {
          const u = unknown.get(id) ?? { call: c, destinations: new Set<string>() };
          u.destinations.add(t.destination);
          unknown.set(id, u);
        }
      },
      baseDir: loaded.baseDir,
      env: opts.env,
      functionDenylist: t.config.function_denylist,
      sandboxPath: t.config.sandbox_path,
    });
    callsOf.set(t.index, calls);
    try {
      rendered.set(t.index, { content: t.compiled.render(runtime), writes });
    } catch (e) {
      if (!(e instanceof CertrenderError)) throw e;
      rendered.set(t.index, { error: e.message + (e.hint ? ` (${e.hint})` : ''), writes });
    }
  };

  // Streaming (apply): a set of templates bound by the same issuances is finished (planned,
  // validated, swapped) as soon as its own calls are answered, while other requests are in
  // flight, instead of after the last answer. Only where that cannot change what is written:
  // no writeToFile (its targets are known only once rendered), nothing in an atomic_dir.
  const finalized = new Set<number>();
  const finishing: Promise<Finished>[] = [];
  for (let pass = 0; ; pass++) {
    const unknown: Unknown = new Map();
    for (const t of templates) if (!finalized.has(t.index)) renderOne(t, unknown);
    if (unknown.size === 0) break;
    if (pass >= MAX_DISCOVERY_PASSES) {
      for (const [id, u] of unknown) blockedCalls.set(id, { status: 'failed', reason: `call ${u.call.path} still unresolved after ${MAX_DISCOVERY_PASSES} passes` });
      continue;
    }
    // Reads first, then issuances and other writes; the backend bounds the requests in flight.
    const all = [...unknown.values()].map((u) => ({ call: u.call, destinations: [...u.destinations].sort() }));
    const fetched = new Map<string, Promise<void>>();
    const reads = all.filter((u) => u.call.kind !== 'write');
    for (const u of reads) fetched.set(callId(u.call), fetchOne(u.call, u.destinations));
    const readsDone = Promise.all(reads.map((u) => fetched.get(callId(u.call))));
    for (const u of all) if (u.call.kind === 'write') fetched.set(callId(u.call), readsDone.then(() => fetchOne(u.call, u.destinations)));
    const gates = apply && pass === 0 ? streamingGates(fetched) : [];
    await Promise.all([...fetched.values(), ...gates]);
  }

  const parts = [...(await Promise.all(finishing)), await finish(templates.filter((t) => !finalized.has(t.index)))];
  // In template order, as one planGroups over every output would have listed them.
  const firstIndex = (g: PlannedGroup) => Math.min(...g.outputs.map((o) => o.index));
  const outputs = parts.flatMap((f) => f.outputs).sort((x, y) => x.index - y.index);
  const groups = parts.flatMap((f) => f.groups).sort((x, y) => firstIndex(x) - firstIndex(y));
  const disk = new Map(parts.flatMap((f) => [...f.disk]));
  const results = new Map(parts.flatMap((f) => [...f.results]));
  const groupProblems = new Map(parts.flatMap((f) => [...f.groupProblems]));
  const appendMarks = new Map(parts.flatMap((f) => [...f.appendMarks]));

  // -- remember what was appended, for the groups that were written
  for (const g of groups) {
    if (results.get(g.id) !== 'written') continue;
    for (const o of g.outputs) {
      const mark = appendMarks.get(o.destination);
      if (mark) store.putAppendMark(o.destination, mark);
    }
  }

  // -- hooks notified by the groups written (plan: that would be written), then a rollback if one asks for it
  const phase = await runHookPhase({ config, baseDir: loaded.baseDir, apply, groups, results, store, issuedNow, disk, journalDir, atomicDirs, env: opts.env, now: opts.now, logger, pause: opts.pause });
  report.hooks = phase.reports;
  if (phase.failed) report.ok = false;
  for (const id of phase.rolledBack) {
    results.set(id, 'rolled_back');
    groupProblems.set(id, [`rolled back: hook "${phase.failed}" failed`]);
  }

  // -- report
  for (const g of groups) {
    const status = results.get(g.id)!;
    const problems = groupProblems.get(g.id) ?? [];
    const destinations = g.outputs.map((o) => o.destination);
    report.groups.push({ id: g.id, destinations, status, problems });
    for (const o of g.outputs) {
      const blocked = outputs.find((x) => x.destination === o.destination)?.blocked;
      let action: FileReport['action'];
      if (status === 'rolled_back') action = 'rolled_back';
      else if (status === 'unknown' || status === 'rejected' || status === 'failed') action = status;
      else action = o.change === 'none' || o.change === 'blocked' ? 'unchanged' : o.change;
      report.files.push({
        destination: o.destination,
        template: o.name,
        group: g.id,
        action,
        mode: o.mode !== undefined ? `0${o.mode.toString(8)}` : undefined,
        reason: blocked?.reason ?? (problems.length ? problems.join('; ') : undefined),
      });
    }
    const event = { written: 'group_written', would_write: 'group_would_write', unchanged: 'group_unchanged', unknown: 'group_unknown', rejected: 'group_rejected', failed: 'group_failed', rolled_back: 'group_rolled_back' }[status];
    const fields = { group: g.id, destinations, files: g.outputs.filter((o) => o.change !== 'none').map((o) => o.destination), problems: problems.length ? problems : undefined };
    const bad = status === 'rejected' || status === 'failed' || status === 'rolled_back';
    if (bad) logger.error(event, fields);
    else logger.info(event, fields);
    if (bad) report.ok = false;
  }
  if (opts.collectContents) {
    report.contents = new Map(outputs.filter((o) => o.content !== undefined).map((o) => [o.destination, o.content!]));
  }
  const renewals = [...issuanceRecords.values()].map((r) => r.renewAt).sort();
  report.nextRenewal = renewals[0];
  report.nextRefresh = nextRefresh === undefined ? undefined : new Date(nextRefresh).toISOString();
  report.backend = backend?.kind;
  if (backend) report.requests = statsSince(backend.stats(), statsBase);
  report.durationMs = Date.now() - started;
  logger.info('cycle_done', {
    mode,
    ok: report.ok,
    issued: report.issuances.filter((i) => i.action === 'issue').length,
    reused: report.issuances.filter((i) => i.action === 'reuse').length,
    written: report.groups.filter((g) => g.status === 'written').length,
    rejected: report.groups.filter((g) => g.status === 'rejected').length,
    failed: report.groups.filter((g) => g.status === 'failed').length,
    next_renewal: report.nextRenewal,
    duration_ms: report.durationMs,
  });
  return report;
}

async function swapFiles(opts: { groupId: string; outputs: PlannedGroup['outputs']; journalDir: string; pause?: (p: string) => Promise<void> }) {
  const { swapGroup } = await import('../fs/swap-group.js');
  await swapGroup({
    groupId: opts.groupId,
    journalDir: opts.journalDir,
    pause: opts.pause,
    files: opts.outputs.map((o) => ({ path: o.destination, content: o.content!, mode: o.mode!, uid: o.uid, gid: o.gid, backup: o.backup, createDirs: o.createDirs })),
  });
}

/** A rendered file that looks like PEM: undefined when fine, 'not_pem' when only its layout is off (written anyway, as consul-template would), else the problem. */
async function checkRenderedFile(opts: { text: string; anchors: string[]; now: Date }): Promise<string | undefined | 'not_pem'> {
  const { validateCertificateFile } = await import('../pki/validate.js');
  const r = validateCertificateFile({ content: opts.text, anchors: opts.anchors, now: opts.now });
  // Only a layout problem (markers not on lines of their own, as in a Go-list-printed
  // chain) is written as consul-template would; a truncated or corrupt block is rejected.
  if (r.kind === 'not_pem') {
    const corrupt = r.problems.filter((p) => p.rule !== 'pem_layout');
    return corrupt.length ? corrupt.map((p) => `${p.rule}: ${p.message}`).join('; ') : 'not_pem';
  }
  if (r.kind === 'key_only') return r.ok ? undefined : r.problems.map((p) => `${p.rule}: ${p.message}`).join('; ');
  if (r.result.ok) return undefined;
  // With no anchor known (a file fed by nothing from a PKI mount), only parsing is checked.
  const problems = opts.anchors.length ? r.result.problems : r.result.problems.filter((p) => !['chain_incomplete', 'untrusted_anchor'].includes(p.rule));
  return problems.length ? problems.map((p) => `${p.rule}: ${p.message}`).join('; ') : undefined;
}
