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
  assert.ok(existsSync(join(ROOT, 'dist/bundle/main.cjs')), 'dist/ is built and bundled (npm ci runs the build; npm test rebuilds)');
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
  const firstCert = readFileSync(join(out, 'server.pem'), 'utf8');
  const second = await runCli(['once', '--config', 'examples/quickstart/certrender.hcl'], { cwd: dir, bin: 'dist' });
  assert.is(second.code, 0);
  assert.match(second.stdout, /nothing to do/);
  assert.is(readFileSync(join(out, 'server.pem'), 'utf8'), firstCert, 'the second run rewrote nothing');

  // status: a table for people, JSON for machines, both from the files on disk and the stored renewal point
  const table = await runCli(['status', '--config', 'examples/quickstart/certrender.hcl'], { cwd: dir, bin: 'dist' });
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /^DESTINATION\s+KIND\s+SUBJECT\s+ISSUER\s+NOT AFTER\s+RESIDUAL\s+RENEW AT\s+STATE/);
  // The residual of a 72h certificate: 2d23h, or 3d0h when status runs within half a second
  // of the issuance's whole second (durations are rounded to the second).
  const serverRow = /server\.pem\s+certificate\s+localhost\s+certrender quickstart CA\s+\S+ \S+\s+(2d2\dh|3d0h)\s+\S+ \S+\s+ok/;
  assert.ok(serverRow.test(table.stdout), `the server.pem row of:\n${table.stdout}`);
  const rows = JSON.parse((await runCli(['status', '--json', '--config', 'examples/quickstart/certrender.hcl'], { cwd: dir, bin: 'dist' })).stdout);
  assert.equal(rows.map((r: { kind: string; state: string }) => [r.kind, r.state]), [['ca_bundle', 'ok'], ['certificate', 'ok'], ['private_key', 'n/a']]);
  const server = rows[1];
  assert.is(server.notAfter, new Date(new (await import('node:crypto')).X509Certificate(firstCert).validTo).toISOString());
  assert.ok(Date.parse(server.renewAt) < Date.parse(server.notAfter), 'renewal point before expiry');

  // plan --contents (consul-template's -dry): contents of files needing no issuance, private keys redacted
  const dry = await runCli(['plan', '--contents', '--config', 'examples/quickstart/certrender.hcl'], { cwd: dir, bin: 'dist' });
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /> .*server-key\.pem\n\[REDACTED PRIVATE KEY\]/);
  assert.ok(dry.stdout.includes(firstCert.trim()), 'the certificate is printed');
  assert.not.ok(dry.stdout.includes(readFileSync(join(out, 'server-key.pem'), 'utf8').split('\n')[1]), 'no key material');
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
