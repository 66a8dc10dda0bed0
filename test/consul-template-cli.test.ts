/**
 * consul-template's command line through the real certrender process, against a real
 * OpenBao: `-config DIR -once`, `-template`, `-vault-addr`/`-vault-token`, `-dry`, pid_file.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { runCli } from './helpers/cli.js';
import { makeTempDir } from './helpers/tmp.js';

const test = suite('consul-template CLI');
const ctx: { bao?: OpenBao } = {};
test.before(async () => {
  ctx.bao = await startOpenBao();
  await setupPki(ctx.bao);
});
test.after(async () => {
  await ctx.bao?.stop();
});

const CERT_TPL = '{{ with secret "pki/issue/server" "common_name=ct.test" }}{{ .Data.certificate }}{{ end }}\n';

async function workdir(): Promise<string> {
  const dir = await makeTempDir('certrender-ct-cli');
  await mkdir(join(dir, 'conf.d'));
  await writeFile(join(dir, 'cert.tpl'), CERT_TPL);
  return dir;
}

test('the built binary (the bundle), -config DIR -once: the directory merged in lexical order, pid_file written and removed, flags win', async () => {
  const dir = await workdir();
  await writeFile(join(dir, 'conf.d', '10-vault.hcl'), `vault {\n  address = "http://127.0.0.1:1"\n  retry {\n    enabled = false\n  }\n}\nwait {\n  min = "2s"\n}\npid_file = "ct.pid"\n`);
  await writeFile(join(dir, 'conf.d', '20-tpl.hcl'), `template {\n  source = "cert.tpl"\n  destination = "out/cert.pem"\n  command = "touch reloaded"\n}\n`);
  // bin/certrender, as fleets run it: the bundle's Vault client (node-vault) talks to OpenBao.
  const r = await runCli(['-config', 'conf.d', '-vault-addr', ctx.bao!.addr, '-once', '-log-level=info'], { cwd: dir, env: { VAULT_TOKEN: ctx.bao!.token, CERTRENDER_STATE_DIR: join(dir, 'state') }, bin: 'dist' });
  assert.is(r.code, 0, r.stderr);
  const cert = new X509Certificate(await readFile(join(dir, 'out/cert.pem')));
  assert.match(cert.subject, /CN=ct\.test/);
  assert.ok(existsSync(join(dir, 'reloaded')), 'the template command ran');
  assert.not.ok(existsSync(join(dir, 'ct.pid')), 'pid_file removed at exit');
  assert.match(r.stderr, /10-vault\.hcl:7: wait: accepted and ignored/);
});

test('-template "src:dst:cmd" with -vault-addr and -vault-token, no config file', async () => {
  const dir = await workdir();
  const r = await runCli(['-template', 'cert.tpl:out/flag.pem:touch flagged', '-vault-addr', ctx.bao!.addr, '-vault-token', ctx.bao!.token, '-once'], { cwd: dir, env: { CERTRENDER_STATE_DIR: join(dir, 'state') } });
  assert.is(r.code, 0, r.stderr);
  assert.match(await readFile(join(dir, 'out/flag.pem'), 'utf8'), /BEGIN CERTIFICATE/);
  assert.ok(existsSync(join(dir, 'flagged')));
  assert.not.match(r.stderr + r.stdout, new RegExp(ctx.bao!.token));
});

test('-dry writes nothing and issues nothing', async () => {
  const dir = await workdir();
  await writeFile(join(dir, 'conf.d', 'ct.hcl'), `vault {\n  address = "${ctx.bao!.addr}"\n}\ntemplate {\n  source = "cert.tpl"\n  destination = "out/dry.pem"\n}\n`);
  const r = await runCli(['-config=conf.d', '-dry'], { cwd: dir, env: { VAULT_TOKEN: ctx.bao!.token, CERTRENDER_STATE_DIR: join(dir, 'state') } });
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(dir, 'out/dry.pem')));
  assert.match(r.stdout, /dry\.pem/);
});

test('refused flags and keys exit 2 naming them', async () => {
  const dir = await workdir();
  const flag = await runCli(['-config', 'conf.d', '-exec', 'nginx', '-once'], { cwd: dir });
  assert.is(flag.code, 2);
  assert.match(flag.stderr, /-exec is not supported/);
  await writeFile(join(dir, 'conf.d', 'consul.hcl'), 'consul {\n  address = "127.0.0.1:8500"\n}\n');
  const key = await runCli(['-config', 'conf.d', '-once'], { cwd: dir });
  assert.is(key.code, 2);
  assert.match(key.stderr, /consul\.hcl:1: consul: Consul is not supported/);
});

test('function_denylist and sandbox_path are enforced by the binary: the denied and the escaping templates fail by name, the others render', async () => {
  const dir = await workdir();
  await mkdir(join(dir, 'jail'));
  await writeFile(join(dir, 'jail', 'motd'), 'inside\n');
  await writeFile(join(dir, 'secret.txt'), 'outside\n');
  await writeFile(join(dir, 'env.tpl'), '{{ env "HOME" }}\n');
  await writeFile(join(dir, 'in.tpl'), '{{ file "jail/motd" }}');
  await writeFile(join(dir, 'out.tpl'), '{{ file "jail/../secret.txt" }}');
  const tpl = (src: string, dst: string, extra: string) => `template {\n  source = "${src}"\n  destination = "out/${dst}"\n  ${extra}\n}\n`;
  await writeFile(
    join(dir, 'conf.d', 'ct.hcl'),
    tpl('env.tpl', 'env.txt', 'function_denylist = ["env", "plugin"]') + tpl('in.tpl', 'in.txt', 'sandbox_path = "jail"') + tpl('out.tpl', 'out.txt', 'sandbox_path = "jail"') + tpl('cert.tpl', 'cert.pem', ''),
  );
  const r = await runCli(['-config', 'conf.d', '-vault-addr', ctx.bao!.addr, '-once'], { cwd: dir, env: { VAULT_TOKEN: ctx.bao!.token, CERTRENDER_STATE_DIR: join(dir, 'state') } });
  assert.is.not(r.code, 0, 'a failed template fails the run');
  // JSON log lines: the quotes come escaped.
  assert.match(r.stderr, /function \\"env\\" is disabled by this template's function_denylist/);
  assert.match(r.stderr, /secret\.txt\\" is outside of sandbox_path/);
  assert.not.ok(existsSync(join(dir, 'out/env.txt')));
  assert.not.ok(existsSync(join(dir, 'out/out.txt')));
  assert.is(await readFile(join(dir, 'out/in.txt'), 'utf8'), 'inside\n');
  assert.match(await readFile(join(dir, 'out/cert.pem'), 'utf8'), /BEGIN CERTIFICATE/);
});

test.run();
