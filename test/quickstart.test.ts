/**
 * The README's first command, as an operator runs it: the built binary, from the
 * repository layout, on the embedded local CA; then `openssl verify` accepts the result.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/tmp.js';
import { ROOT, runCli } from './helpers/cli.js';

test('npx certrender once --config examples/quickstart/certrender.hcl writes a CA, a server certificate and its key', async () => {
  assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')), 'dist/ is built (npm ci runs the build; npm test rebuilds)');
  const dir = await makeTempDir('cr-quickstart');
  cpSync(join(ROOT, 'examples/quickstart'), join(dir, 'examples/quickstart'), {
    recursive: true,
    filter: (src) => !/\/(out|state)(\/|$)/.test(src),
  });
  const first = await runCli(['once', '--config', 'examples/quickstart/certrender.hcl'], { cwd: dir, bin: 'dist' });
  assert.is(first.code, 0, first.stderr);
  const out = join(dir, 'examples/quickstart/out');
  const verify = execFileSync('openssl', ['verify', '-CAfile', join(out, 'ca.pem'), join(out, 'server.pem')], { encoding: 'utf8' });
  assert.match(verify, /server\.pem: OK/);
  assert.is(statSync(join(out, 'server-key.pem')).mode & 0o777, 0o600);
  const modulus = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
  assert.is(
    modulus(['pkey', '-in', join(out, 'server-key.pem'), '-pubout']),
    modulus(['x509', '-in', join(out, 'server.pem'), '-noout', '-pubkey']),
    'the key belongs to the certificate',
  );
  const second = await runCli(['once', '--config', 'examples/quickstart/certrender.hcl'], { cwd: dir, bin: 'dist' });
  assert.is(second.code, 0);
  assert.match(second.stdout, /nothing to do/);
  assert.is(readFileSync(join(out, 'server.pem'), 'utf8'), readFileSync(join(out, 'server.pem'), 'utf8'));
});

test('consul-template flags: -config ... -once and -dry', async () => {
  const dir = await makeTempDir('cr-quickstart');
  cpSync(join(ROOT, 'examples/quickstart'), join(dir, 'examples/quickstart'), { recursive: true, filter: (src) => !/\/(out|state)(\/|$)/.test(src) });
  const dry = await runCli(['-config', 'examples/quickstart/certrender.hcl', '-dry'], { cwd: dir, bin: 'dist' });
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would_issue/);
  assert.not.ok(existsSync(join(dir, 'examples/quickstart/out')), '-dry writes nothing');
  assert.not.ok(existsSync(join(dir, 'examples/quickstart/state')), '-dry creates no state');
  const once = await runCli(['-config=examples/quickstart/certrender.hcl', '-once'], { cwd: dir, bin: 'dist' });
  assert.is(once.code, 0, once.stderr);
  assert.ok(existsSync(join(dir, 'examples/quickstart/out/server.pem')));
});

test('--help teaches, --version answers, a bad config names file and key', async () => {
  const help = await runCli(['--help'], { cwd: ROOT, bin: 'dist' });
  assert.is(help.code, 0);
  for (const word of ['once', 'plan', 'status', 'Exit codes', '-once', 'examples/quickstart']) assert.ok(help.stdout.includes(word), `help mentions ${word}`);
  const version = await runCli(['--version'], { cwd: ROOT, bin: 'dist' });
  assert.is(version.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  const dir = await makeTempDir('cr-badcfg');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'c.hcl'), 'template {\n  destination = "x"\n  contents = "y"\n  perms = "0abc"\n}\n');
  const bad = await runCli(['once', '-c', 'c.hcl'], { cwd: dir, bin: 'dist' });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /c\.hcl:4: template\.0\.perms/);
});

test.run();
