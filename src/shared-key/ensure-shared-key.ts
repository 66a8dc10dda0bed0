/**
 * Reading, creating and writing a shared key at its KV v2 path, race-free: the first
 * host to need it generates it and writes with check-and-set `cas = 0`; every other
 * host, and a loser of the race (`shared_key_cas_lost`), reads the winner's key.
 * The key is never logged; errors name the path, never the material.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CertrenderError, isCertrenderError } from '../errors.js';
import type { SharedKeyConfig } from '../config/schema.js';
import type { Backend } from '../issuer/backend.js';
import { generateKey } from '../issuer/key-gen.js';
import type { Logger } from '../observe/logger.js';
import { initialValue, parseSharedKeyValue, type SharedKeyMaterial, type SharedKeyValue } from './shared-key-value.js';

export interface SharedKeyRead {
  material: SharedKeyMaterial;
  value: SharedKeyValue;
}

const BARRIER_TIMEOUT_MS = 120_000;

/**
 * Test hook, never for production use: with CERTRENDER_TEST_SHARED_KEY_BARRIER=<dir>,
 * right before its check-and-set write of shared key NAME the process appends "NAME\n"
 * to <dir>/<pid>.ready and waits until <dir>/go exists, so a test can hold several
 * hosts (and each host's several keys) right before their writes and release them together.
 */
export function testBarrier(env: NodeJS.ProcessEnv, name: string): (() => Promise<void>) | undefined {
  const dir = env.CERTRENDER_TEST_SHARED_KEY_BARRIER;
  if (!dir) return undefined;
  return async () => {
    appendFileSync(join(dir, `${process.pid}.ready`), `${name}\n`);
    const deadline = Date.now() + BARRIER_TIMEOUT_MS;
    while (!existsSync(join(dir, 'go'))) {
      if (Date.now() > deadline) throw new CertrenderError('CR_INTERNAL', `test barrier ${dir}: no "go" file after ${BARRIER_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
}

const status = (e: CertrenderError): unknown => e.context?.status;

function isCasMismatch(e: unknown): boolean {
  return isCertrenderError(e) && (e.code === 'CR_KV_CAS' || (status(e) === 400 && /check-and-set/.test(e.message)));
}

function permissionError(e: CertrenderError, opts: { name: string; path: string; capability: string }): CertrenderError {
  return new CertrenderError('CR_VAULT_AUTH', `shared key "${opts.name}": permission denied on ${opts.path}: the token's policy lacks the "${opts.capability}" capability there`, {
    hint: `grant capabilities = ["create", "read", "update"] on path "${opts.path}" (see examples/shared-keys/policy.hcl)`,
    context: { path: opts.path, capability: opts.capability },
    cause: e,
  });
}

/** The shared key at its path; undefined when nothing is stored there. */
export async function readSharedKey(opts: { backend: Backend; name: string; config: SharedKeyConfig }): Promise<SharedKeyRead | undefined> {
  const path = opts.config.kv_path;
  let data: Record<string, any> | null;
  try {
    data = (await opts.backend.read(path)).data;
  } catch (e) {
    if (isCertrenderError(e) && status(e) === 404) return undefined;
    if (isCertrenderError(e) && e.code === 'CR_VAULT_AUTH') throw permissionError(e, { name: opts.name, path, capability: 'read' });
    throw e;
  }
  const version = Number(data?.metadata?.version);
  const parsed = parseSharedKeyValue({ name: opts.name, path, type: opts.config.type, version, data: data?.data });
  if (!parsed.ok || !Number.isInteger(version)) {
    const problems = parsed.ok ? ['the response has no KV v2 metadata.version (is the mount KV version 2?)'] : parsed.problems;
    throw new CertrenderError('CR_VALIDATION_FAILED', `shared key "${opts.name}": ${path} does not hold a ${opts.config.type} shared key: ${problems.join('; ')}`, {
      hint: `nothing was written. ${path} must hold { type, active: { pem, created } } as certrender writes it; point kv_path at an unused path, or remove the value there (vault kv metadata delete) so that the first host creates the key`,
      context: { path, problems },
    });
  }
  return { material: parsed.material, value: parsed.value };
}

/**
 * Writes value with check-and-set: the new KV version, or undefined when another writer
 * got there first (the version is no longer `cas`).
 */
export async function casWriteSharedKey(opts: { backend: Backend; name: string; path: string; value: SharedKeyValue; cas: number }): Promise<number | undefined> {
  try {
    const r = await opts.backend.write(opts.path, { options: { cas: opts.cas }, data: opts.value });
    return Number(r.data?.version);
  } catch (e) {
    if (isCasMismatch(e)) return undefined;
    if (isCertrenderError(e) && e.code === 'CR_VAULT_AUTH') throw permissionError(e, { name: opts.name, path: opts.path, capability: opts.cas === 0 ? 'create' : 'update' });
    throw e;
  }
}

/**
 * The shared key, created on first use when `create` (apply); undefined when absent
 * and not to be created (plan).
 */
export async function ensureSharedKey(opts: {
  backend: Backend;
  name: string;
  config: SharedKeyConfig;
  create: boolean;
  logger: Logger;
  now: () => Date;
  /** Called right before the check-and-set write (the test barrier). */
  beforeWrite?: () => Promise<void>;
}): Promise<SharedKeyMaterial | undefined> {
  const { name, config, logger } = opts;
  const path = config.kv_path;
  const found = await readSharedKey(opts);
  if (found) return found.material;
  if (!opts.create) return undefined;
  const pem = generateKey(config.type).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const value = initialValue({ type: config.type, pem, created: opts.now().toISOString() });
  await opts.beforeWrite?.();
  const version = await casWriteSharedKey({ backend: opts.backend, name, path, value, cas: 0 });
  if (version !== undefined) {
    const created = parseSharedKeyValue({ name, path, type: config.type, version, data: value });
    if (!created.ok) throw new CertrenderError('CR_INTERNAL', `shared key "${name}": a generated key does not check: ${created.problems.join('; ')}`);
    logger.info('shared_key_created', { name, path, type: config.type, fingerprint: created.material.active.fingerprint, version });
    return created.material;
  }
  const winner = await readSharedKey(opts);
  if (!winner) {
    throw new CertrenderError('CR_KV_CAS', `shared key "${name}": ${path} refuses a first write (cas=0) yet reads as empty: its latest version is deleted`, {
      hint: `undelete it (vault kv undelete) or remove its metadata (vault kv metadata delete ${path.replace('/data/', '/')}) so that a host can create the key`,
      context: { path },
    });
  }
  logger.info('shared_key_cas_lost', { name, path, fingerprint: winner.material.active.fingerprint, version: winner.material.version });
  return winner.material;
}
