/**
 * `certrender rotate-shared-key NAME [--activate]`: staged rotation, never automatic.
 * Without --activate a new key is added as *pending* (public-key renders include it, so
 * every host trusts it first); with --activate the pending key becomes the active one
 * (private-key and CSR renders switch at their next cycle). Both writes are
 * check-and-set against the version read.
 */
import { CertrenderError } from '../errors.js';
import type { LoadedConfig } from '../config/schema.js';
import type { Backend } from '../issuer/backend.js';
import { generateKey } from '../issuer/key-gen.js';
import type { Logger } from '../observe/logger.js';
import { casWriteSharedKey, readSharedKey } from './ensure-shared-key.js';
import { parseSharedKeyValue, promotePending, withPending } from './shared-key-value.js';

export interface RotateSharedKeyOptions {
  loaded: LoadedConfig;
  stateDir: string;
  name: string;
  activate: boolean;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  now: () => Date;
  /** Injected backend (tests); otherwise chosen by the config, as the cycle does. */
  backend?: Backend;
}

export interface RotateSharedKeyResult {
  name: string;
  path: string;
  action: 'pending_added' | 'activated';
  /** KV version written. */
  version: number;
  /** SHA-256 fingerprints (SPKI) after the write. */
  active: string;
  pending?: string;
}

async function backendFor(opts: RotateSharedKeyOptions): Promise<Backend> {
  const config = opts.loaded.config;
  if (config.local_ca) {
    const { createLocalCaBackend } = await import('../issuer/local-ca-backend.js');
    return createLocalCaBackend({ stateDir: opts.stateDir, config: config.local_ca, readOnly: false, now: opts.now });
  }
  const { resolveVaultSettings } = await import('../vault/vault-settings.js');
  const { createVaultBackend } = await import('../vault/vault-backend.js');
  return createVaultBackend({ settings: resolveVaultSettings({ vault: config.vault, env: opts.env, baseDir: opts.loaded.baseDir }), logger: opts.logger });
}

export async function rotateSharedKey(opts: RotateSharedKeyOptions): Promise<RotateSharedKeyResult> {
  const { name, logger } = opts;
  const declared = opts.loaded.config.shared_key[name];
  if (!declared) {
    const known = Object.keys(opts.loaded.config.shared_key);
    throw new CertrenderError('CR_USAGE', `no shared_key "${name}" in the config${known.length ? ` (shared keys: ${known.join(', ')})` : ''}`, {
      hint: 'name a shared_key block of the config',
    });
  }
  const path = declared.kv_path;
  const backend = opts.backend ?? (await backendFor(opts));
  const current = await readSharedKey({ backend, name, config: declared });
  if (!current) {
    throw new CertrenderError('CR_USAGE', `shared key "${name}": nothing stored at ${path} yet, nothing to rotate`, {
      hint: 'the key is created by the first `certrender once` that renders it',
      context: { path },
    });
  }
  const { value, material } = current;
  if (opts.activate && !value.pending) {
    throw new CertrenderError('CR_USAGE', `shared key "${name}": no pending key at ${path} to activate`, {
      hint: `run \`certrender rotate-shared-key ${name}\` first, and let every host render the public keys before --activate`,
      context: { path },
    });
  }
  if (!opts.activate && value.pending) {
    throw new CertrenderError('CR_USAGE', `shared key "${name}": ${path} already has a pending key (${material.pending!.fingerprint})`, {
      hint: `activate it with \`certrender rotate-shared-key ${name} --activate\` once every host trusts it`,
      context: { path },
    });
  }
  const next = opts.activate
    ? promotePending(value)
    : withPending(value, { pem: generateKey(declared.type).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), created: opts.now().toISOString() });
  const version = await casWriteSharedKey({ backend, name, path, value: next, cas: material.version });
  if (version === undefined) {
    throw new CertrenderError('CR_KV_CAS', `shared key "${name}": ${path} changed since it was read (version ${material.version}); nothing was written`, {
      hint: 'another rotation ran at the same time: check the key, then run the command again if still needed',
      context: { path, cas: material.version },
    });
  }
  const after = parseSharedKeyValue({ name, path, type: declared.type, version, data: next });
  if (!after.ok) throw new CertrenderError('CR_INTERNAL', `shared key "${name}": the value written does not check: ${after.problems.join('; ')}`);
  const result: RotateSharedKeyResult = {
    name,
    path,
    action: opts.activate ? 'activated' : 'pending_added',
    version,
    active: after.material.active.fingerprint,
    pending: after.material.pending?.fingerprint,
  };
  logger.info(opts.activate ? 'shared_key_activated' : 'shared_key_pending_added', { ...result });
  return result;
}
