/**
 * Vault over TLS, as production runs it: a real OpenBao serving https (`bao server
 * -dev-tls`, its own generated CA) and the built binary (the bundle's node-vault) with a
 * consul-template config and Go templates. The CA comes from `vault { ca_cert }`, or
 * from VAULT_CACERT; without it the certificate is refused and nothing is written;
 * `tls_skip_verify` connects anyway and says so.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { logEvents, runCli } from './helpers/cli.js';
import { makeTempDir } from './helpers/tmp.js';

const test = suite('vault over TLS');
const ctx: { bao?: OpenBao; pkiCa?: string } = {};
test.before(async () => {
  ctx.bao = await startOpenBao({ tls: true });
  ctx.pkiCa = (await setupPki(ctx.bao)).caPem;
});
test.after(async () => {
  await ctx.bao?.stop();
});

const CALL = '"pki/issue/server" "common_name=tls.test" "ttl=1h"';

/** A consul-template config (vault block + `extra`) issuing a cert and its key; returns the directory. */
async function workdir(vaultExtra: string): Promise<string> {
  const dir = await makeTempDir('certrender-tls');
  await writeFile(join(dir, 'token'), ctx.bao!.token);
  await writeFile(join(dir, 'cert.tmpl'), `{{ with secret ${CALL} }}{{ .Data.certificate }}{{ end }}\n`);
  await writeFile(join(dir, 'key.tmpl'), `{{ with secret ${CALL} }}{{ .Data.private_key }}{{ end }}\n`);
  await writeFile(
    join(dir, 'ct.hcl'),
    `vault {\n  address = "${ctx.bao!.addr}"\n  vault_agent_token_file = "token"\n  retry {\n    attempts = 1\n  }\n${vaultExtra}}\n` +
      `template {\n  source = "cert.tmpl"\n  destination = "out/cert.pem"\n}\ntemplate {\n  source = "key.tmpl"\n  destination = "out/key.pem"\n}\n`,
  );
  return dir;
}

const run = (dir: string, env: Record<string, string> = {}) =>
  runCli(['-config', 'ct.hcl', '-once'], { cwd: dir, env: { CERTRENDER_STATE_DIR: join(dir, 'state'), ...env }, bin: 'dist' });

function assertIssued(dir: string) {
  const cert = new X509Certificate(readFileSync(join(dir, 'out/cert.pem')));
  assert.ok(cert.checkIssued(new X509Certificate(ctx.pkiCa!)), 'issued by the PKI mount');
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'out/key.pem')))), 'the key matches the cert');
}

test('https with vault { ca_cert }: the cert and its key are issued and written', async () => {
  assert.ok(ctx.bao!.addr.startsWith('https://'));
  const dir = await workdir(`  ca_cert = "${ctx.bao!.caCertPath}"\n`);
  const r = await run(dir);
  assert.is(r.code, 0, r.stderr);
  assertIssued(dir);
});

test('https with VAULT_CACERT instead of ca_cert', async () => {
  const dir = await workdir('');
  const r = await run(dir, { VAULT_CACERT: ctx.bao!.caCertPath! });
  assert.is(r.code, 0, r.stderr);
  assertIssued(dir);
});

test('https with no CA to trust: refused as a TLS failure naming the address, nothing written', async () => {
  const dir = await workdir('');
  const r = await run(dir);
  assert.is.not(r.code, 0);
  const failed = logEvents(r.stderr).find((e) => e.event === 'issuance_failed');
  assert.ok(failed, r.stderr);
  assert.is(failed!.error.code, 'CR_VAULT_NETWORK');
  assert.match(failed!.error.message, /UNABLE_TO_VERIFY|SELF_SIGNED|self[- ]signed|unable to verify/i);
  assert.ok(failed!.error.message.includes(ctx.bao!.addr), failed!.error.message);
  assert.not.ok(existsSync(join(dir, 'out/cert.pem')) || existsSync(join(dir, 'out/key.pem')), 'nothing written');
});

test('https with tls_skip_verify = true: connects without the CA, and warns', async () => {
  const dir = await workdir('  tls_skip_verify = true\n');
  const r = await run(dir);
  assert.is(r.code, 0, r.stderr);
  assertIssued(dir);
  assert.ok(logEvents(r.stderr).some((e) => e.event === 'vault_tls_verify_disabled'), r.stderr);
});

test.run();
