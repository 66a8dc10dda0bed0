/**
 * The bundle as bin/certrender runs it (scripts/bundle.mjs), in fresh node processes:
 * - node-vault.cjs must not load undici (node 20 loads all of it, ~35 ms, at the first touch
 *   of a fetch global, which stock axios does when it loads), and the client it builds must
 *   still send a write with its JSON body and read the JSON answer;
 * - main.cjs loads from the code cache the build trained (src/boot/code-cache.ts), and a
 *   cache that does not belong to the file (changed source, corrupt data) is not used: the
 *   source runs, as if there were no cache.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';
import { makeTempDir } from './helpers/tmp.js';

const CHILD = `
const nodeVault = require(process.argv[1]);
const loadedAtStart = process.moduleLoadList.filter((m) => m.includes('undici'));
const client = nodeVault({ endpoint: process.argv[2], token: 'not-a-real-token' });
client.write('pki/issue/server', { common_name: 'a.example', ttl: '1h' }).then(
  (answer) => {
    const loadedAfter = process.moduleLoadList.filter((m) => m.includes('undici'));
    const proxyAgent = Object.keys(require.cache).filter((k) => k.includes('https-proxy-agent'));
    process.stdout.write(JSON.stringify({ loadedAtStart, loadedAfter, proxyAgent, answer }));
  },
  (e) => { process.stderr.write(String(e?.stack ?? e)); process.exitCode = 1; },
);
`;

/** A stand-in Vault answering every request with `{ data: { serial_number } }`, recording the last request. */
async function withStandIn(fn: (addr: string, seen: { method?: string; url?: string; body?: string; token?: string }) => Promise<void>): Promise<void> {
  const seen: { method?: string; url?: string; body?: string; token?: string } = {};
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      Object.assign(seen, { method: req.method, url: req.url, body, token: req.headers['x-vault-token'] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { serial_number: '01:02' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    server.close();
  }
}

function runChild(addr: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  // This machine's DEBUG and proxy settings must not steer the child: each test sets its own.
  const rest = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DEBUG' && !/^(https?|no|all)_proxy$/i.test(k)));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', CHILD, join(ROOT, 'dist/bundle/node-vault.cjs'), addr], { env: { ...rest, ...env } }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve({ stdout, stderr }))),
  );
}

test('dist/bundle/node-vault.cjs loads without undici and still sends a JSON write and reads its answer', async () => {
  await withStandIn(async (addr, seen) => {
    const { stdout, stderr } = await runChild(addr, {});
    const r = JSON.parse(stdout);
    assert.equal(r.loadedAtStart, [], 'loading the bundle loads no undici');
    assert.equal(r.loadedAfter, [], 'a write with a plain-object body loads no undici');
    assert.equal(r.proxyAgent, [], 'no proxy configured: https-proxy-agent is not loaded');
    assert.equal(r.answer, { data: { serial_number: '01:02' } });
    assert.is(seen.method, 'POST'); // node-vault's write; Vault treats POST and PUT alike
    assert.is(seen.url, '/v1/pki/issue/server');
    assert.equal(JSON.parse(seen.body!), { common_name: 'a.example', ttl: '1h' });
    assert.is(seen.token, 'not-a-real-token');
    assert.is(stderr, '', 'without DEBUG, node-vault logs nothing');
  });
});

test('dist/bundle/node-vault.cjs: with HTTPS_PROXY set, an https request goes out through the proxy (https-proxy-agent loads then)', async () => {
  const connects: string[] = [];
  const proxy = createServer((_, res) => res.writeHead(405).end());
  proxy.on('connect', (req, socket) => {
    connects.push(String(req.url));
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const failed = await runChild('https://vault.example.test:8200', { HTTPS_PROXY: proxyUrl, NO_PROXY: '' }).then(
      () => false,
      () => true,
    );
    assert.ok(failed, 'the proxy refused the tunnel, so the write fails');
    assert.equal(connects, ['vault.example.test:8200']);
  } finally {
    proxy.close();
  }
});

test("dist/bundle/node-vault.cjs: DEBUG=node-vault still prints node-vault's debug lines (the debug module loads only then)", async () => {
  await withStandIn(async (addr) => {
    const { stderr } = await runChild(addr, { DEBUG: 'node-vault' });
    assert.match(stderr, /node-vault POST http:\/\/127\.0\.0\.1:\d+\/v1\/pki\/issue\/server/);
    assert.not.match(stderr, /not-a-real-token/, 'the token is a header, never in a debug line');
  });
});

/** Runs `main(args)` of dir/main.cjs through dir/code-cache.cjs; returns its stdout and the cache's state. */
async function runCached(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; state: string }> {
  const child = `
const { requireCached, cacheStates } = require(process.argv[1] + '/code-cache.cjs');
const file = process.argv[1] + '/main.cjs';
const { main } = requireCached(file);
process.stderr.write('STATE ' + cacheStates.get(file) + '\\n');
main(JSON.parse(process.argv[2])).then((code) => (process.exitCode = code));
`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', child, dir, JSON.stringify(args)], { env: { ...process.env, ...env } }, (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve({ stdout, state: /STATE (\S+)/.exec(stderr)?.[1] ?? '' }),
    ),
  );
}

const HELP_LINE = 'certrender renders Vault/OpenBao-issued certificates to disk from templates.';

/** A copy of the built layout (dist/bundle/, package.json, node_modules) whose bundle a test may change. */
async function copyOfBuild(): Promise<string> {
  const dir = await makeTempDir('cr-code-cache');
  cpSync(join(ROOT, 'dist/bundle'), join(dir, 'dist/bundle'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'dist/bundle');
}

test('dist/bundle/main.cjs loads from the code cache the build trained', async () => {
  const r = await runCached(join(ROOT, 'dist/bundle'), ['--version']);
  assert.is(r.state, 'used', 'npm run build writes dist/bundle/main.cjs.v8cache, and this node accepts it');
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  const off = await runCached(join(ROOT, 'dist/bundle'), ['--version'], { CERTRENDER_CODE_CACHE: 'off' });
  assert.is(off.state, 'absent', 'CERTRENDER_CODE_CACHE=off ignores the cache');
  assert.is(off.stdout, r.stdout);
});

test('node-vault.cjs, x509.cjs and nunjucks.cjs load from their code caches too, and work (x509: reflect-metadata is bundled in it)', async () => {
  const child = `
const { requireCached, cacheStates } = require(process.argv[1] + '/code-cache.cjs');
const nv = requireCached(process.argv[1] + '/node-vault.cjs');
const x509 = requireCached(process.argv[1] + '/x509.cjs');
const nunjucks = requireCached(process.argv[1] + '/nunjucks.cjs');
const text = new nunjucks.Environment([], { autoescape: false }).renderString('{{ a }}-{{ b | upper }}', { a: '<1>', b: 'x' });
process.stdout.write(JSON.stringify({ states: [...cacheStates.values()], nv: typeof nv, name: new x509.Name('CN=a.example').toString(), text }));
`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['-e', child, join(ROOT, 'dist/bundle')], (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout))),
  );
  assert.equal(JSON.parse(out), { states: ['used', 'used', 'used'], nv: 'function', name: 'CN=a.example', text: '<1>-X' });
});

test('a cache built for other source bytes (same length) is not used: the changed source is what runs', async () => {
  const dir = await copyOfBuild();
  const main = join(dir, 'main.cjs');
  const source = readFileSync(main, 'utf8');
  assert.ok(source.includes(HELP_LINE));
  // Same length: V8's own check (the source's length) would accept the old bytecode.
  const changed = HELP_LINE.replace('certrender renders', 'CERTRENDER RENDERS');
  writeFileSync(main, source.replace(HELP_LINE, changed));
  const r = await runCached(dir, ['--help']);
  assert.is(r.state, 'stale');
  assert.ok(r.stdout.includes(changed), 'the help text comes from the changed source');
});

test('a damaged cache is not handed to V8 (a release V8 would abort on it) and the source runs', async () => {
  const dir = await copyOfBuild();
  const cache = readFileSync(join(dir, 'main.cjs.v8cache'));
  for (let i = 200; i < cache.length; i += 97) cache[i] ^= 0xff; // the digests (64 bytes) are kept
  writeFileSync(join(dir, 'main.cjs.v8cache'), cache);
  const r = await runCached(dir, ['--help']);
  assert.is(r.state, 'damaged');
  assert.ok(r.stdout.includes(HELP_LINE));
});

test('a cache V8 rejects (built by another V8 or with other flags) is not used and the source runs', async () => {
  const dir = await copyOfBuild();
  const cache = readFileSync(join(dir, 'main.cjs.v8cache'));
  // V8's header (after our 64 bytes): magic number, version hash, source hash, flags hash.
  // Change the flags hash and re-digest, as a cache from a node run with other flags would be.
  const data = Buffer.from(cache.subarray(64));
  data.writeUInt32LE(data.readUInt32LE(12) ^ 1, 12);
  writeFileSync(join(dir, 'main.cjs.v8cache'), Buffer.concat([cache.subarray(0, 32), createHash('sha256').update(data).digest(), data]));
  const r = await runCached(dir, ['--help']);
  assert.is(r.state, 'rejected');
  assert.ok(r.stdout.includes(HELP_LINE));
});

test.run();
