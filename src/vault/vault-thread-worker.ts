/**
 * The worker side of vault-thread.ts: loads node-vault when told a run is likely to call
 * Vault (or on open), opens the backend and answers calls with createVaultBackend's own
 * answers and errors.
 */
import { parentPort } from 'node:worker_threads';
import type { Backend } from '../issuer/backend.js';
import type { Logger } from '../observe/logger.js';
import { createVaultBackend, loadNodeVault } from './vault-backend.js';
import { resolveVaultSettings } from './vault-settings.js';
import { toWire, type FromThread, type ToThread } from './vault-thread.js';

const port = parentPort!;
/** Posts m; if something in it cannot be cloned (a function, a socket), what JSON keeps of it. */
const send = (m: FromThread) => {
  try {
    port.postMessage(m);
  } catch {
    port.postMessage(JSON.parse(JSON.stringify(m)));
  }
};
const log =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (event: string, fields?: Record<string, unknown>) =>
    send({ type: 'log', level, event, fields });
const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), setLevel: () => {} };

let backend: Backend | undefined;

port.on('message', async (m: ToThread) => {
  if (m.type === 'preload') {
    loadNodeVault();
    return;
  }
  if (m.type === 'open') {
    try {
      backend = createVaultBackend({ settings: resolveVaultSettings({ vault: m.vault, env: m.env, baseDir: m.baseDir }), logger });
      send({ type: 'opened' });
    } catch (e) {
      send({ type: 'open_failed', error: toWire(e) });
    }
    return;
  }
  const b = backend!;
  try {
    const value = m.op === 'read' ? await b.read(m.path) : m.op === 'list' ? await b.list(m.path) : await b.write(m.path, m.body ?? {});
    send({ type: 'result', id: m.id, value, stats: b.stats() });
  } catch (e) {
    send({ type: 'failed', id: m.id, error: toWire(e), stats: b.stats() });
  }
});
