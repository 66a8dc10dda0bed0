/**
 * `certrender once` as a real process against a real OpenBao (`bao server -dev`),
 * issuances counted from OpenBao's own audit log.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { rotateRoot, setupPki } from './helpers/openbao-pki.js';
import { makeTempDir } from './helpers/tmp.js';
import { writeTree } from './helpers/cycle.js';
import { logEvents, runCli, startCli } from './helpers/cli.js';

const ctx: { bao?: OpenBao; caPem?: string } = {};
const test = suite('certrender once against OpenBao');

test.before(async () => {
  ctx.bao = await startOpenBao({ auditLog: true });
  ctx.caPem = (await setupPki(ctx.bao, { mount: 'pki_k8s', role: 'kubernetes' })).caPem;
});
test.after(async () => {
  await ctx.bao?.stop();
});

const ISSUE = (alt: string) =>
  `secret("pki_k8s/issue/kubernetes", "common_name=kube-apiserver", "alt_names=${alt}", "ip_sans=127.0.0.1, 10.0.0.1", "exclude_cn_from_sans=true", "ttl=24h")`;

async function fixture(alt = 'kubernetes, kubernetes.default'): Promise<string> {
  const dir = await makeTempDir('cr-bao');
  await writeTree(dir, {
    'certrender.hcl': `
state_dir = "state"
# reads are live on every run here (default: cached for 5m), so ca.pem follows the mount
static_secret_render_interval = "0s"
vault {
  address = "${ctx.bao!.addr}"
  retry { attempts = 2 }
}
template {
  source      = "tpl/ca.pem.njk"
  destination = "pki/ca.pem"
}
template {
  source      = "tpl/apiserver.pem.njk"
  destination = "pki/apiserver.pem"
}
template {
  source      = "tpl/apiserver-key.pem.njk"
  destination = "pki/apiserver-key.pem"
}
`,
    'tpl/ca.pem.njk': '{{ secret("pki_k8s/cert/ca").Data.certificate }}\n',
    'tpl/apiserver.pem.njk': `{{ ${ISSUE(alt)}.Data.certificate }}\n`,
    'tpl/apiserver-key.pem.njk': `{{ ${ISSUE(alt)}.Data.private_key }}\n`,
  });
  return dir;
}

const env = () => ({ VAULT_TOKEN: ctx.bao!.token });
const issued = () => ctx.bao!.countRequests({ operation: 'update', pathIncludes: 'pki_k8s/issue/' });
const snapshot = (dir: string) =>
  Object.fromEntries(readdirSync(join(dir, 'pki')).map((f) => [f, readFileSync(join(dir, 'pki', f), 'utf8')]));

test('renders a CA, certificate and key set; a second run issues nothing; a changed SAN re-issues once', async () => {
  const dir = await fixture();
  const before = await issued();
  const first = await runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: env() });
  assert.is(first.code, 0, first.stderr);
  assert.is((await issued()) - before, 1, 'one issuance for the cert and the key templates');
  const cert = new X509Certificate(readFileSync(join(dir, 'pki/apiserver.pem')));
  assert.ok(cert.verify(new X509Certificate(ctx.caPem!).publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'pki/apiserver-key.pem')))));
  assert.is(readFileSync(join(dir, 'pki/ca.pem'), 'utf8').trim(), ctx.caPem!.trim());
  assert.match(cert.subjectAltName!, /DNS:kubernetes\.default/);
  assert.not.match(cert.subjectAltName!, /DNS:kube-apiserver/, 'exclude_cn_from_sans honoured');

  const files = snapshot(dir);
  const second = await runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: env() });
  assert.is(second.code, 0, second.stderr);
  assert.is((await issued()) - before, 1, 'the audit log shows no new issuance');
  assert.match(second.stdout, /nothing to do/);
  assert.equal(snapshot(dir), files);

  const changed = await fixture('kubernetes, kubernetes.default, kubernetes.default.svc');
  // same state and outputs, new request: copy the state over so it is "the same host"
  for (const f of ['tpl/apiserver.pem.njk', 'tpl/apiserver-key.pem.njk']) writeFileSync(join(dir, f), readFileSync(join(changed, f)));
  const third = await runCli(['once', '--config', 'certrender.hcl', '--json'], { cwd: dir, env: env() });
  assert.is(third.code, 0, third.stderr);
  assert.is((await issued()) - before, 2, 'exactly one re-issue');
  const report = JSON.parse(third.stdout);
  assert.equal(report.issuances.map((i: any) => [i.action, i.reason]), [['issue', 'request_changed']]);
  assert.match(new X509Certificate(readFileSync(join(dir, 'pki/apiserver.pem'))).subjectAltName!, /kubernetes\.default\.svc/);
});

test('after the mount switches to a new root, the next issuance is rejected (pinned anchor) and nothing is written', async () => {
  const dir = await fixture();
  const first = await runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: env() });
  assert.is(first.code, 0, first.stderr);
  const files = snapshot(dir);
  const newCa = await rotateRoot(ctx.bao!, 'pki_k8s');
  try {
    const run = await runCli(['once', '--config', 'certrender.hcl', '--force-renew', 'all', '--json'], { cwd: dir, env: env() });
    assert.is(run.code, 1, 'non-zero exit');
    const report = JSON.parse(run.stdout);
    assert.equal(report.issuances.map((i: any) => i.action), ['rejected']);
    assert.ok(report.issuances[0].problems.some((p: string) => /^(chain_incomplete|untrusted_anchor)/.test(p)), report.issuances[0].problems.join('\n'));
    // ca.pem is rendered from the mount's (new) CA: it does not chain to the pinned anchor either
    const ca = report.groups.find((g: any) => g.destinations.some((d: string) => d.endsWith('ca.pem')));
    assert.is(ca.status, 'rejected');
    assert.equal(snapshot(dir), files, 'every file is byte-identical to before');
    assert.ok(logEvents(run.stderr).some((e) => e.event === 'issuance_rejected'));
    assert.is.not(readFileSync(join(dir, 'pki/ca.pem'), 'utf8').trim(), newCa.trim());
  } finally {
    // put the original root back as default for the other tests
    const issuers = await ctx.bao!.api('LIST', 'pki_k8s/issuers');
    const original = Object.entries(issuers.data.key_info as Record<string, any>).find(([, v]) => v.issuer_name === 'root-1')![0];
    await ctx.bao!.api('POST', 'pki_k8s/config/issuers', { default: original });
  }
});

test('SIGKILL between two renames of a group: the next start recovers a consistent group', async () => {
  const dir = await fixture();
  const first = await runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: env() });
  assert.is(first.code, 0, first.stderr);
  const old = snapshot(dir);
  const marker = join(dir, 'paused');
  const { child, done } = startCli(['once', '--config', 'certrender.hcl', '--force-renew', 'all'], {
    cwd: dir,
    env: { ...env(), CERTRENDER_TEST_PAUSE_AT: 'after_rename:0', CERTRENDER_TEST_PAUSE_FILE: marker },
  });
  for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(marker), 'the process reached the pause point');
  const mid = snapshot(dir);
  child.kill('SIGKILL');
  const killed = await done;
  assert.is(killed.signal, 'SIGKILL');
  // between the renames: exactly one of the two files is new
  const changedNow = ['apiserver.pem', 'apiserver-key.pem'].filter((f) => mid[f] !== old[f]);
  assert.is(changedNow.length, 1, 'the kill really happened between two renames');

  const next = await runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: env() });
  assert.is(next.code, 0, next.stderr);
  assert.ok(logEvents(next.stderr).some((e) => e.event === 'journal_recovered'), 'recovery was logged');
  const cert = new X509Certificate(readFileSync(join(dir, 'pki/apiserver.pem')));
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'pki/apiserver-key.pem')))), 'cert and key belong together');
  assert.equal(
    readdirSync(join(dir, 'pki')).filter((f) => f.includes('.certrender-')),
    [],
    'no staged or orig files left',
  );
});

test('Vault down: a clear error naming the address, non-zero exit, the files that worked are untouched', async () => {
  const dir = await fixture();
  const first = await runCli(['once', '--config', 'certrender.hcl'], { cwd: dir, env: env() });
  assert.is(first.code, 0, first.stderr);
  const files = snapshot(dir);
  writeFileSync(join(dir, 'certrender.hcl'), readFileSync(join(dir, 'certrender.hcl'), 'utf8').replace(ctx.bao!.addr, 'http://127.0.0.1:9'));
  const run = await runCli(['once', '--config', 'certrender.hcl', '--force-renew', 'all'], { cwd: dir, env: env() });
  assert.is(run.code, 1);
  assert.match(run.stdout, /127\.0\.0\.1:9/);
  assert.equal(snapshot(dir), files);
  assert.not.ok(run.stderr.includes(ctx.bao!.token), 'the token never reaches a log line');
});

test.run();
