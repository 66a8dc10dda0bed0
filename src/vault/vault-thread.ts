/**
 * The Vault backend in a worker thread, for one-shot runs (`once`, `plan`).
 *
 * Loading node-vault and its axios tree is ~60-70 ms of CPU that nothing else in a run
 * can overlap on one thread, and it sits right before the first Vault request. The
 * thread starts (~30 ms on another core) when the command is known; once the config is
 * read, if the state says Vault is likely to be called (nothing stored yet, or something
 * due), it loads node-vault while this thread reads the templates. A run with nothing
 * due never loads it (nor would it in-thread). Requests, retries, logins and error mapping are
 * createVaultBackend's, unchanged, over there; this side is a Backend that forwards
 * calls and turns answers back into values and CertrenderErrors, and logs what the
 * thread logs through the run's logger. The daemon keeps its backend in-thread (a
 * thread would cost it resident memory for the whole run).
 *
 * Only the built code (dist/) starts a thread: from the TypeScript sources (tsx, in
 * tests) there is no loader inside a worker, so startVaultThread() returns undefined and
 * the run opens its backend in-thread as before.
 */
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CertrenderError, type ErrorCode } from '../errors.js';
import type { Backend, RequestStats } from '../issuer/backend.js';
import { NO_REQUESTS } from '../issuer/backend.js';
import type { Logger } from '../observe/logger.js';
import type { VaultConfig } from '../config/schema.js';
import type { VaultResponse } from '../template/vault-response.js';

/** An error as it crosses the thread boundary. */
export interface WireError {
  certrender: boolean;
  code?: string;
  message: string;
  hint?: string;
  context?: Record<string, unknown>;
  cause?: string;
}

export type ToThread =
  | { type: 'preload' }
  | { type: 'open'; vault?: VaultConfig; env: Record<string, string | undefined>; baseDir: string }
  | { type: 'call'; id: number; op: 'read' | 'list' | 'write'; path: string; body?: Record<string, unknown> };

export type FromThread =
  | { type: 'opened' }
  | { type: 'open_failed'; error: WireError }
  | { type: 'result'; id: number; value: VaultResponse; stats: RequestStats }
  | { type: 'failed'; id: number; error: WireError; stats: RequestStats }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; event: string; fields?: Record<string, unknown> };

export function toWire(e: unknown): WireError {
  if (e instanceof CertrenderError) {
    return { certrender: true, code: e.code, message: e.message, hint: e.hint, context: e.context, cause: e.cause instanceof Error ? e.cause.message : undefined };
  }
  return { certrender: false, message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

export function fromWire(w: WireError): Error {
  if (!w.certrender) return new Error(`in the Vault thread: ${w.message}`);
  return new CertrenderError(w.code as ErrorCode, w.message, { hint: w.hint, context: w.context, cause: w.cause === undefined ? undefined : new Error(w.cause) });
}

export interface VaultThread {
  /** Loads node-vault in the thread now (the run is likely to call Vault), not at open(). */
  preload(): void;
  /** The backend for this config's `vault {}` block, opened in the thread. */
  open(opts: { vault?: VaultConfig; env: NodeJS.ProcessEnv; baseDir: string; logger: Logger }): Promise<Backend>;
  /** Stops the thread (at the end of the run, or when the config needs no Vault). */
  close(): Promise<void>;
}

/**
 * Starts the thread (node-vault loads there on preload() or open()); undefined when running
 * from sources. `workerUrl` is for tests. A thread that cannot start or dies makes open()
 * and every call reject with a plain Error (not a CertrenderError) naming the thread.
 */
export function startVaultThread(workerUrl = new URL(`./vault-thread-worker${extname(import.meta.url)}`, import.meta.url)): VaultThread | undefined {
  // Beside this module: .js under dist/ (tsc), .cjs in dist/bundle/; none beside a .ts source.
  if (!/\.c?js$/.test(import.meta.url)) return undefined;
  const worker = new Worker(workerUrl);
  let logger: Logger | undefined;
  let opened: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const pending = new Map<number, { resolve: (v: VaultResponse) => void; reject: (e: Error) => void }>();
  let stats: RequestStats = NO_REQUESTS;
  let crashed: Error | undefined;
  let nextId = 0;

  // Only a run waiting for an answer keeps the process alive for the thread.
  worker.unref();
  const settle = () => (pending.size === 0 && !opened ? worker.unref() : worker.ref());

  worker.on('message', (m: FromThread) => {
    if (m.type === 'log') {
      logger?.[m.level](m.event, m.fields);
    } else if (m.type === 'opened' || m.type === 'open_failed') {
      const o = opened;
      opened = undefined;
      if (m.type === 'opened') o?.resolve();
      else o?.reject(fromWire(m.error));
    } else {
      stats = m.stats;
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.type === 'result') p?.resolve(m.value);
      else p?.reject(fromWire(m.error));
    }
    settle();
  });
  const fail = (e: Error) => {
    crashed = new Error(`the Vault thread stopped: ${e.message}`);
    opened?.reject(crashed);
    opened = undefined;
    for (const p of pending.values()) p.reject(crashed);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));

  const post = (m: ToThread) => worker.postMessage(m);
  const call = (op: 'read' | 'list' | 'write', path: string, body?: Record<string, unknown>): Promise<VaultResponse> => {
    if (crashed) return Promise.reject(crashed);
    const id = nextId++;
    return new Promise<VaultResponse>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      settle();
      post({ type: 'call', id, op, path, body });
    });
  };

  return {
    preload: () => post({ type: 'preload' }),
    async open(opts) {
      if (crashed) throw crashed;
      logger = opts.logger;
      await new Promise<void>((resolve, reject) => {
        opened = { resolve, reject };
        settle();
        post({ type: 'open', vault: opts.vault, env: { ...opts.env }, baseDir: opts.baseDir });
      });
      return {
        kind: 'vault',
        read: (path) => call('read', path),
        list: (path) => call('list', path),
        write: (path, body) => call('write', path, body),
        stats: () => ({ ...stats, errorsByStatus: { ...stats.errorsByStatus } }),
      };
    },
    async close() {
      worker.removeAllListeners('exit');
      if (!crashed) fail(new Error('closed'));
      await worker.terminate();
    },
  };
}
