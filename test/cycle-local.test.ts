/**
 * The render cycle end to end against the embedded local CA: real temp dirs, real
 * files, real certificates. (The same cycle against a real OpenBao is in
 * cycle-openbao.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/tmp.js';
import { count, cycle, writeTree } from './helpers/cycle.js';
import { mintCa } from './helpers/mint.js';
import { createLocalCaBackend } from '../src/issuer/local-ca-backend.js';
import { localCaSchema } from '../src/config/schema.js';

const CERT_TPL = `{% set s = secret("pki/issue/web", "common_name=web.test", "alt_names=alt.web.test", "ip_sans=127.0.0.1", "ttl=24h") -%}
{{ s.Data.certificate }}
{{ s.Data.issuing_ca }}
`;
const KEY_TPL = `{{ secret("pki/issue/web", "ttl=24h", "ip_sans=127.0.0.1", "alt_names=alt.web.test", "common_name=web.test").Data.private_key }}
`;

function config(extra = ''): string {
  return `
state_dir = "state"
local_ca { ttl = "24h" }
template {
  source      = "tpl/ca.njk"
  destination = "out/ca.pem"
}
template {
  source      = "tpl/cert.njk"
  destination = "out/web.pem"
}
template {
  source      = "tpl/key.njk"
  destination = "out/web-key.pem"
}
${extra}
`;
}

async function fixture(extra = ''): Promise<string> {
  const dir = await makeTempDir('cr-cycle');
  await writeTree(dir, {
    'certrender.hcl': config(extra),
    'tpl/ca.njk': '{{ secret("pki/cert/ca").Data.certificate }}\n',
    'tpl/cert.njk': CERT_TPL,
    'tpl/key.njk': KEY_TPL,
  });
  return dir;
}

const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');
const mode = (dir: string, f: string) => statSync(join(dir, f)).mode & 0o777;

test('first run issues once for a cert and its key, writes a valid set; second run does nothing', async () => {
  const dir = await fixture();
  const first = await cycle({ dir });
  assert.ok(first.report.ok);
  // one issuance although two templates asked for it, argument order differing
  assert.is(count(first.report.issuances, (i) => i.action === 'issue'), 1);
  assert.equal(first.report.issuances[0].destinations, [join(dir, 'out/web-key.pem'), join(dir, 'out/web.pem')]);
  const cert = new X509Certificate(read(dir, 'out/web.pem'));
  const ca = new X509Certificate(read(dir, 'out/ca.pem'));
  assert.ok(cert.verify(ca.publicKey), 'leaf verifies under the written CA');
  assert.ok(cert.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(read(dir, 'out/web-key.pem')))));
  assert.match(cert.subjectAltName ?? '', /DNS:alt\.web\.test/);
  assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.is(mode(dir, 'out/web-key.pem'), 0o600, 'key files default to 0600');
  assert.is(mode(dir, 'out/web.pem'), 0o644);

  const before = readdirSync(join(dir, 'out')).map((f) => [f, statSync(join(dir, 'out', f)).mtimeMs, statSync(join(dir, 'out', f)).ino]);
  const second = await cycle({ dir });
  assert.ok(second.report.ok);
  assert.is(count(second.report.issuances, (i) => i.action === 'issue'), 0);
  assert.is(count(second.report.issuances, (i) => i.action === 'reuse'), 1);
  assert.is(second.report.requests.writes, 0, 'no backend write on a steady-state run');
  assert.ok(second.report.files.every((f) => f.action === 'unchanged'));
  const after = readdirSync(join(dir, 'out')).map((f) => [f, statSync(join(dir, 'out', f)).mtimeMs, statSync(join(dir, 'out', f)).ino]);
  assert.equal(after, before, 'unchanged files are not touched');
  assert.ok(second.events.some((e) => e.event === 'issuance_reused'));
});

test('a changed SAN re-issues with reason request_changed; --force-renew re-issues with reason forced', async () => {
  const dir = await fixture();
  await cycle({ dir });
  const oldCert = read(dir, 'out/web.pem');
  writeFileSync(join(dir, 'tpl/cert.njk'), CERT_TPL.replace('alt.web.test', 'alt2.web.test'));
  writeFileSync(join(dir, 'tpl/key.njk'), KEY_TPL.replace('alt.web.test', 'alt2.web.test'));
  const changed = await cycle({ dir });
  assert.equal(
    changed.report.issuances.map((i) => [i.action, i.reason]),
    [['issue', 'request_changed']],
  );
  assert.is.not(read(dir, 'out/web.pem'), oldCert);
  assert.match(new X509Certificate(read(dir, 'out/web.pem')).subjectAltName ?? '', /alt2\.web\.test/);

  const forced = await cycle({ dir, forceRenew: [join(dir, 'out/web.pem')] });
  assert.equal(forced.report.issuances.map((i) => [i.action, i.reason]), [['issue', 'forced']]);
});

test('inside the renewal window the certificate is re-issued (in_window), using the stored jittered point', async () => {
  const dir = await fixture();
  const t0 = new Date();
  const first = await cycle({ dir, now: t0, random: () => 1 });
  const renewAt = new Date(first.report.issuances[0].renewAt!);
  // 24h lifetime, 2/3 minus the full 5% jitter: about 14.8h after issuance
  const hours = (renewAt.getTime() - t0.getTime()) / 3_600_000;
  assert.ok(hours > 14.5 && hours < 15.2, `renewal point ${hours}h after issuance`);
  const early = await cycle({ dir, now: new Date(renewAt.getTime() - 60_000) });
  assert.equal(early.report.issuances.map((i) => i.reason), ['reused']);
  const due = await cycle({ dir, now: new Date(renewAt.getTime() + 60_000) });
  assert.equal(due.report.issuances.map((i) => i.reason), ['in_window']);
});

test('plan has zero side effects: no state dir, no files, no issuance; it says what once would do', async () => {
  const dir = await fixture();
  const plan = await cycle({ dir, mode: 'plan' });
  assert.ok(!existsSync(join(dir, 'state')), 'plan never creates the state directory');
  assert.ok(!existsSync(join(dir, 'out')), 'plan writes nothing');
  assert.equal(plan.report.issuances.map((i) => [i.action, i.reason]), [['would_issue', 'missing']]);
  assert.equal(
    plan.report.files.map((f) => f.action),
    ['unknown', 'unknown', 'unknown'],
  );
  // after a real run, plan shows reuse and unchanged files
  await cycle({ dir });
  const plan2 = await cycle({ dir, mode: 'plan' });
  assert.equal(plan2.report.issuances.map((i) => i.action), ['reuse']);
  assert.ok(plan2.report.files.every((f) => f.action === 'unchanged'));
});

test('an issuance that does not chain to trust_anchor is rejected and nothing of its group is written', async () => {
  const dir = await fixture('trust_anchor = "other-ca.pem"');
  const other = await mintCa({ cn: 'some other CA' });
  writeFileSync(join(dir, 'other-ca.pem'), other.certPem);
  const run = await cycle({ dir });
  assert.not.ok(run.report.ok);
  assert.equal(run.report.issuances.map((i) => i.action), ['rejected']);
  assert.ok(run.report.issuances[0].problems!.some((p) => /^(chain_incomplete|untrusted_anchor)/.test(p)), run.report.issuances[0].problems!.join());
  assert.ok(!existsSync(join(dir, 'out/web.pem')) && !existsSync(join(dir, 'out/web-key.pem')), 'nothing of the rejected group');
  const rejected = run.report.groups.find((g) => g.destinations.includes(join(dir, 'out/web.pem')))!;
  assert.is(rejected.status, 'rejected');
  const stored = existsSync(join(dir, 'state', 'issuances')) ? readdirSync(join(dir, 'state', 'issuances')) : [];
  assert.is(stored.length, 0, 'a rejected issuance is not stored');
});

test('a broken template fails its own group with file:line, the other groups are still written', async () => {
  const dir = await fixture(`template {
  contents    = "x\\n{{ file(\\"missing.txt\\") }}"
  destination = "out/broken.txt"
}
template {
  source      = "tpl/syntax.njk"
  destination = "out/syntax.txt"
}`);
  writeFileSync(join(dir, 'tpl/syntax.njk'), 'ok\n{% if %}\n');
  const run = await cycle({ dir });
  assert.not.ok(run.report.ok);
  const files = Object.fromEntries(run.report.files.map((f) => [f.destination.slice(dir.length + 1), f]));
  assert.is(files['out/broken.txt'].action, 'failed');
  assert.match(files['out/broken.txt'].reason!, /template\.3 \(contents\):2:\d+: file ".*missing\.txt"/);
  assert.is(files['out/syntax.txt'].action, 'failed');
  assert.match(files['out/syntax.txt'].reason!, /syntax\.njk/);
  assert.is(files['out/web.pem'].action, 'create');
  assert.ok(existsSync(join(dir, 'out/web.pem')));
  assert.ok(!existsSync(join(dir, 'out/broken.txt')));
});

test('a rendered certificate file that is not valid is rejected; text with no PEM is written as is', async () => {
  const dir = await makeTempDir('cr-cycle');
  const ca = await mintCa({ cn: 'static' });
  const truncated = ca.certPem.split('\n').slice(0, 4).join('\n');
  await writeTree(dir, {
    'certrender.hcl': `state_dir = "state"
template {
  contents    = <<EOT
${truncated}
EOT
  destination = "out/bad.pem"
}
template {
  contents    = "plain text {{ env(\\"HOME_X\\") }}\\n"
  destination = "out/plain.txt"
  perms       = "0640"
}`,
  });
  const run = await cycle({ dir, env: { HOME_X: 'here' } });
  assert.not.ok(run.report.ok);
  assert.is(run.report.backend, undefined, 'no Vault call, no backend at all');
  assert.ok(!existsSync(join(dir, 'out/bad.pem')));
  assert.is(read(dir, 'out/plain.txt'), 'plain text here\n');
  assert.is(mode(dir, 'out/plain.txt'), 0o640);
});

test('atomic_dir: a group in one directory switches with one rename behind ..data', async () => {
  const dir = await fixture('atomic_dir "out" { keep = 1 }');
  await cycle({ dir });
  assert.ok(lstatSync(join(dir, 'out/web.pem')).isSymbolicLink());
  assert.is(readlinkSync(join(dir, 'out/web.pem')), '..data/web.pem');
  const gen1 = readlinkSync(join(dir, 'out/..data'));
  const cert1 = read(dir, 'out/web.pem');
  new X509Certificate(cert1);
  await cycle({ dir, forceRenew: ['all'] });
  const gen2 = readlinkSync(join(dir, 'out/..data'));
  assert.is.not(gen2, gen1);
  assert.is.not(read(dir, 'out/web.pem'), cert1);
  const c = new X509Certificate(read(dir, 'out/web.pem'));
  const { createPrivateKey } = await import('node:crypto');
  assert.ok(c.checkPrivateKey(createPrivateKey(read(dir, 'out/web-key.pem'))), 'cert and key of the new generation match');
});

test('writeToFile: part of the template\'s group, atomic, mode and newline; append only when the data changed', async () => {
  const dir = await makeTempDir('cr-cycle');
  await writeTree(dir, {
    'certrender.hcl': `state_dir = "state"
local_ca {}
template {
  source      = "bundle.njk"
  destination = "out/cert.pem"
}`,
    'bundle.njk': `{% set c = pkiCert("pki/issue/w", "common_name=w.test") %}{{ writeToFile("out/key.pem", "", "", "0600", c.Key) }}{{ writeToFile("out/log.txt", "", "", "0640", "append,newline", env("LINE")) }}{{ c.Cert }}`,
  });
  const first = await cycle({ dir, env: { LINE: 'one' } });
  assert.ok(first.report.ok, JSON.stringify(first.report.groups));
  assert.is(first.report.groups.length, 1, 'the template and its writeToFile targets are one group');
  const cert = new X509Certificate(read(dir, 'out/cert.pem'));
  const { createPrivateKey } = await import('node:crypto');
  assert.ok(cert.checkPrivateKey(createPrivateKey(read(dir, 'out/key.pem'))), 'pkiCert .Key matches .Cert');
  assert.is(mode(dir, 'out/key.pem'), 0o600);
  assert.is(mode(dir, 'out/log.txt'), 0o640);
  assert.is(read(dir, 'out/log.txt'), 'one\n');
  const same = await cycle({ dir, env: { LINE: 'one' } });
  assert.ok(same.report.files.every((f) => f.action === 'unchanged'), 'unchanged data appends nothing');
  assert.is(read(dir, 'out/log.txt'), 'one\n');
  await cycle({ dir, env: { LINE: 'two' } });
  assert.is(read(dir, 'out/log.txt'), 'one\ntwo\n');
});

test('the mount CA read goes out beside the first issuance: when it fails, the issuance is not applied and nothing is written', async () => {
  const dir = await makeTempDir('cr-anchor');
  await writeTree(dir, {
    'certrender.hcl': config().replace(/template \{\s*source\s*= "tpl\/ca.njk"[^}]*\}/, ''),
    'tpl/cert.njk': CERT_TPL,
    'tpl/key.njk': KEY_TPL,
  });
  const local = createLocalCaBackend({ stateDir: join(dir, 'state'), config: localCaSchema.parse({ ttl: '24h' }), readOnly: false });
  // A CA endpoint that answers without a certificate; issuing still works.
  const backend = { ...local, read: async (path: string) => (path === 'pki/cert/ca' ? { data: {} } : local.read(path)) };
  const run = await cycle({ dir, backend });
  assert.equal(run.report.issuances.map((i) => [i.action, i.reason]), [['failed', 'pki/cert/ca returned no CA certificate to pin']]);
  assert.is(run.report.requests.writes, 1, 'the issuance was requested beside the read (the documented cost)');
  assert.not.ok(existsSync(join(dir, 'out/web.pem')) || existsSync(join(dir, 'out/web-key.pem')), 'nothing written');
  assert.is(run.report.ok, false);
  assert.is(count(run.events, (e) => e.event === 'issuance_issued'), 0);
});

test('the mount CA read is not queued behind the other issuances: it takes the slot after the first issue request', async () => {
  const dir = await makeTempDir('cr-anchor-order');
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const tree: Record<string, string> = {
    'certrender.hcl': `state_dir = "state"\nmax_concurrency = 2\nlocal_ca { ttl = "24h" }\n` + names.map((n) => `template {\n  source = "tpl/${n}.njk"\n  destination = "out/${n}.pem"\n}\n`).join(''),
  };
  for (const n of names) tree[`tpl/${n}.njk`] = `{{ secret("pki/issue/web", "common_name=${n}.test", "ttl=24h").Data.certificate }}\n`;
  await writeTree(dir, tree);
  const local = createLocalCaBackend({ stateDir: join(dir, 'state'), config: localCaSchema.parse({ ttl: '24h' }), readOnly: false });
  const started: string[] = [];
  const backend = {
    ...local,
    read: (path: string) => (started.push(`read ${path}`), local.read(path)),
    write: (path: string, body: Record<string, unknown>) => (started.push(`write ${String(body.common_name)}`), local.write(path, body)),
  };
  const run = await cycle({ dir, backend });
  assert.is(run.report.ok, true);
  assert.is(started.length, 7, started.join(', '));
  assert.is(started.indexOf('read pki/cert/ca'), 1, `order of requests: ${started.join(', ')}`);
});

test('no private key or token appears in any log line or in the report', async () => {
  const dir = await fixture();
  const token = 'hvs.' + 'A'.repeat(24);
  const run = await cycle({ dir, env: { VAULT_TOKEN: token } });
  const key = read(dir, 'out/web-key.pem');
  const keyBody = key.split('\n')[1];
  const caKey = readFileSync(join(dir, 'state/local-ca/pki/ca-key.pem'), 'utf8').split('\n')[1];
  assert.is(mode(dir, 'state/local-ca/pki/ca-key.pem'), 0o600);
  assert.ok(run.logs.length > 200);
  for (const secret of [keyBody, caKey, token, 'PRIVATE KEY']) {
    assert.not.ok(run.logs.includes(secret), `log holds a secret: ${secret.slice(0, 8)}...`);
  }
  const { formatReport } = await import('../src/cli/format-report.js');
  const printed = formatReport(run.report) + JSON.stringify({ ...run.report, contents: undefined });
  for (const secret of [keyBody, caKey, token]) assert.not.ok(printed.includes(secret));
});

test.run();
