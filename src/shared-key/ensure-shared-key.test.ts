import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalCaBackend } from '../issuer/local-ca-backend.js';
import type { Backend } from '../issuer/backend.js';
import type { Logger } from '../observe/logger.js';
import { localCaSchema, type LoadedConfig, configSchema } from '../config/schema.js';
import { ensureSharedKey } from './ensure-shared-key.js';
import { rotateSharedKey } from './rotate-shared-key.js';

const now = () => new Date('2030-01-01T00:00:00Z');
const config = { kv_path: 'secret/data/cp/sa', type: 'rsa-2048' as const };

function recorder() {
  const events: { event: string; fields?: Record<string, unknown> }[] = [];
  const log = (event: string, fields?: Record<string, unknown>) => events.push({ event, fields });
  const logger: Logger = { debug: log, info: log, warn: log, error: log, setLevel: () => {} };
  return { events, logger };
}

function backendIn(dir: string, readOnly = false): Backend {
  return createLocalCaBackend({ stateDir: dir, config: localCaSchema.parse({}), readOnly, now });
}

/** A barrier for n callers: each waits until all n have arrived. */
function barrier(n: number) {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return async () => {
    if (++arrived === n) release();
    await all;
  };
}

test('three hosts racing at the check-and-set write: one key, two losers re-read it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sk-'));
  try {
    const { events, logger } = recorder();
    const beforeWrite = barrier(3);
    const keys = await Promise.all(
      [0, 1, 2].map(() => ensureSharedKey({ backend: backendIn(dir), name: 'sa', config, create: true, logger, now, beforeWrite })),
    );
    assert.is(new Set(keys.map((k) => k!.active.privatePem)).size, 1);
    assert.is(events.filter((e) => e.event === 'shared_key_created').length, 1);
    assert.is(events.filter((e) => e.event === 'shared_key_cas_lost').length, 2);
    assert.not.match(JSON.stringify(events), /PRIVATE KEY/, 'the key is never logged');
    const again = await ensureSharedKey({ backend: backendIn(dir), name: 'sa', config, create: true, logger, now });
    assert.is(again!.active.fingerprint, keys[0]!.active.fingerprint, 'later runs read the same key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plan creates nothing; a value of another type is an error naming the path, and nothing is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sk-'));
  try {
    const { logger } = recorder();
    assert.is(await ensureSharedKey({ backend: backendIn(dir, true), name: 'sa', config, create: false, logger, now }), undefined);
    const b = backendIn(dir);
    await b.write(config.kv_path, { data: { hello: 'world' } });
    const err = await ensureSharedKey({ backend: b, name: 'sa', config, create: true, logger, now }).catch((e) => e);
    assert.is(err.code, 'CR_VALIDATION_FAILED');
    assert.match(err.message, /secret\/data\/cp\/sa/);
    assert.is((await b.read(config.kv_path)).data!.metadata.version, 1, 'nothing written over it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation: pending added with CAS, refused twice, then activated', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sk-'));
  try {
    const { events, logger } = recorder();
    const loaded: LoadedConfig = { config: configSchema.parse({ local_ca: {}, shared_key: { sa: config } }), files: [], baseDir: dir, warnings: [] };
    const rotate = (activate: boolean) => rotateSharedKey({ loaded, stateDir: dir, name: 'sa', activate, env: {}, logger, now });
    assert.is((await rotate(false).catch((e) => e)).code, 'CR_USAGE', 'nothing to rotate before the key exists');
    const first = await ensureSharedKey({ backend: backendIn(dir), name: 'sa', config, create: true, logger, now });
    assert.is((await rotate(true).catch((e) => e)).code, 'CR_USAGE', 'nothing pending to activate');
    const staged = await rotate(false);
    assert.is(staged.action, 'pending_added');
    assert.is(staged.active, first!.active.fingerprint);
    assert.ok(staged.pending && staged.pending !== staged.active);
    assert.is((await rotate(false).catch((e) => e)).code, 'CR_USAGE', 'one pending key at a time');
    const read = await ensureSharedKey({ backend: backendIn(dir), name: 'sa', config, create: true, logger, now });
    assert.is(read!.active.fingerprint, first!.active.fingerprint, 'private side unchanged until --activate');
    const done = await rotate(true);
    assert.equal([done.action, done.active, done.pending, done.version], ['activated', staged.pending, undefined, 3]);
    assert.ok(events.some((e) => e.event === 'shared_key_activated'));
    assert.not.match(JSON.stringify(events), /PRIVATE KEY/);
    assert.is((await rotateSharedKey({ loaded, stateDir: dir, name: 'nope', activate: false, env: {}, logger, now }).catch((e) => e)).code, 'CR_USAGE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
