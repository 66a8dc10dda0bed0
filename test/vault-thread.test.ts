/**
 * The Vault backend of one-shot runs, in its worker thread (src/vault/vault-thread.ts),
 * against a real OpenBao. The thread runs built code only, so this test drives dist/
 * (built by `npm test` first): answers, request counts, errors as CertrenderErrors with
 * their code, hint and context, the thread's logs in the caller's logger, and a clean stop.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { ROOT } from './helpers/cli.js';
import type { Logger } from '../src/observe/logger.js';
import type * as VaultThreadModule from '../src/vault/vault-thread.js';
import type * as ErrorsModule from '../src/errors.js';

const test = suite('Vault thread (dist)');
const ctx: { bao?: OpenBao; mod?: typeof VaultThreadModule; errors?: typeof ErrorsModule } = {};

test.before(async () => {
  ctx.bao = await startOpenBao();
  await setupPki(ctx.bao);
  ctx.mod = await import(pathToFileURL(join(ROOT, 'dist/vault/vault-thread.js')).href);
  ctx.errors = await import(pathToFileURL(join(ROOT, 'dist/errors.js')).href);
});
test.after(async () => {
  await ctx.bao?.stop();
});

function recordingLogger(): Logger & { lines: { level: string; event: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; event: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (event: string, fields?: Record<string, unknown>) => void lines.push({ level, event, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), setLevel: () => {} };
}

const vault = (token: string) => ({ address: ctx.bao!.addr, token, retry: { enabled: true, attempts: 1, backoff: 1, max_backoff: 5 }, timeout: 5000 });

test('answers reads and writes, counts them, and logs through the caller\'s logger', async () => {
  const thread = ctx.mod!.startVaultThread();
  assert.ok(thread, 'built code starts a thread');
  try {
    const logger = recordingLogger();
    thread!.preload();
    const b = await thread!.open({ vault: { ...vault(ctx.bao!.token), tls_skip_verify: true } as never, env: {}, baseDir: '/', logger });
    assert.is(b.kind, 'vault');
    const ca = await b.read('pki/cert/ca');
    assert.match(String(ca.data?.certificate), /BEGIN CERTIFICATE/);
    const issued = await b.write('pki/issue/server', { common_name: 'thread.test', ttl: '1h' });
    assert.match(String(issued.data?.private_key), /PRIVATE KEY/);
    assert.equal(b.stats(), { reads: 1, writes: 1, errors: 0, errorsByStatus: {} });
    assert.ok(
      logger.lines.some((l) => l.level === 'warn' && l.event === 'vault_tls_verify_disabled' && l.fields?.address === ctx.bao!.addr),
      `the thread's warning reached the logger: ${JSON.stringify(logger.lines)}`,
    );
  } finally {
    await thread!.close();
  }
});

test('a refused request is a CertrenderError with its code, hint and context; the counts include it', async () => {
  const thread = ctx.mod!.startVaultThread()!;
  try {
    const b = await thread.open({ vault: vault('not-a-token') as never, env: {}, baseDir: '/', logger: recordingLogger() });
    const e = await b.write('pki/issue/server', { common_name: 'x.test' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(e instanceof ctx.errors!.CertrenderError, `a CertrenderError: ${String(e)}`);
    const ce = e as InstanceType<typeof ctx.errors.CertrenderError>;
    assert.is(ce.code, 'CR_VAULT_AUTH');
    assert.match(ce.message, /pki\/issue\/server was refused \(HTTP 403/);
    assert.match(String(ce.hint), /update/);
    assert.equal(ce.context, { path: 'pki/issue/server', status: 403 });
    assert.ok(ce.cause instanceof Error, 'the cause\'s message crosses too');
    assert.equal(b.stats().errorsByStatus, { '403': 1 });
  } finally {
    await thread.close();
  }
});

test('a config the backend cannot open fails open() with the backend\'s own error', async () => {
  const thread = ctx.mod!.startVaultThread()!;
  try {
    const e = await thread.open({ vault: { ...vault(ctx.bao!.token), ca_cert: '/nonexistent/ca.pem' } as never, env: {}, baseDir: '/', logger: recordingLogger() }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(e instanceof ctx.errors!.CertrenderError, `a CertrenderError: ${String(e)}`);
    assert.is((e as InstanceType<typeof ctx.errors.CertrenderError>).code, 'CR_CONFIG_READ');
    assert.match((e as Error).message, /\/nonexistent\/ca\.pem/);
  } finally {
    await thread.close();
  }
});

test('a thread that cannot start: open() rejects with a plain Error naming the thread (the CLI then opens the backend in-thread)', async () => {
  const thread = ctx.mod!.startVaultThread(pathToFileURL(join(ROOT, 'dist/vault/no-such-worker.js')))!;
  try {
    const e = await thread.open({ vault: vault(ctx.bao!.token) as never, env: {}, baseDir: '/', logger: recordingLogger() }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(e instanceof Error && !(e instanceof ctx.errors!.CertrenderError), `a plain Error: ${String(e)}`);
    assert.match(String(e), /the Vault thread stopped/);
  } finally {
    await thread.close();
  }
});

test('after close(), a call is refused instead of hanging', async () => {
  const thread = ctx.mod!.startVaultThread()!;
  const b = await thread.open({ vault: vault(ctx.bao!.token) as never, env: {}, baseDir: '/', logger: recordingLogger() });
  await thread.close();
  const e = await b.read('pki/cert/ca').then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.match(String(e), /the Vault thread stopped/);
});

test.run();
