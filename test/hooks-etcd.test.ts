/**
 * A real TLS service restarted by a hook and checked by a `tls` gate: a single etcd
 * member (Debian's etcd-server 3.4) serving the certificate certrender writes. The gate
 * proves etcd serves the certificate just written; a certificate for the wrong name
 * fails the gate and is rolled back byte for byte, and etcd is healthy again.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/tmp.js';
import { cycle, writeTree } from './helpers/cycle.js';
import { prepareEtcd, startEtcd, type Etcd } from './helpers/etcd.js';
import { pollGate } from '../src/hooks/gates.js';

const test = suite('hooks with a real etcd');
const ctx: { dir?: string; etcd?: Etcd } = {};

const tpl = (cn: string, sans: string, field: string) =>
  `{{ secret("pki/issue/etcd", "common_name=${cn}", "alt_names=${sans}", "ip_sans=127.0.0.1", "ttl=24h").Data.${field} }}\n`;

function config(dir: string, etcd?: Etcd): string {
  return JSON.stringify({
    state_dir: 'state',
    local_ca: {},
    hook: etcd
      ? {
          etcd: {
            command: ['/bin/sh', etcd.restartScript],
            order: 10,
            timeout: '30s',
            on_failure: 'rollback',
            gate: {
              type: 'tls',
              address: `127.0.0.1:${etcd.clientPort}`,
              server_name: 'etcd.test',
              ca_cert: 'pki/ca.pem',
              expect_cert: 'pki/etcd.pem',
              interval: '200ms',
              timeout: '15s',
            },
          },
        }
      : {},
    template: [
      { contents: '{{ secret("pki/cert/ca").Data.certificate }}\n', destination: 'pki/ca.pem' },
      { source: 'tpl/cert.njk', destination: 'pki/etcd.pem', notify: etcd ? ['etcd'] : [] },
      { source: 'tpl/key.njk', destination: 'pki/etcd-key.pem', notify: etcd ? ['etcd'] : [] },
    ],
  });
}

async function setRequest(cn: string, sans: string) {
  await writeTree(ctx.dir!, { 'tpl/cert.njk': tpl(cn, sans, 'certificate'), 'tpl/key.njk': tpl(cn, sans, 'private_key') });
}

const served = (etcd: Etcd, dir: string) =>
  pollGate({
    gate: { type: 'tls', address: `127.0.0.1:${etcd.clientPort}`, server_name: 'etcd.test', ca_cert: join(dir, 'pki/ca.pem'), expect_cert: join(dir, 'pki/etcd.pem'), interval: 200, timeout: 15_000 },
    env: {},
  });

test.before(async () => {
  ctx.dir = await makeTempDir('cr-etcd');
  await setRequest('etcd.test', 'etcd.test');
  writeFileSync(join(ctx.dir, 'certrender.hcl'), config(ctx.dir));
  const first = await cycle({ dir: ctx.dir });
  assert.ok(first.report.ok);
  ctx.etcd = await prepareEtcd({ dir: ctx.dir, certFile: join(ctx.dir, 'pki/etcd.pem'), keyFile: join(ctx.dir, 'pki/etcd-key.pem'), caFile: join(ctx.dir, 'pki/ca.pem') });
  startEtcd(ctx.etcd);
  const up = await served(ctx.etcd, ctx.dir);
  assert.ok(up.ok, `etcd serves the first certificate: ${up.detail}`);
  writeFileSync(join(ctx.dir, 'certrender.hcl'), config(ctx.dir, ctx.etcd));
});

test.after(() => {
  ctx.etcd?.stop();
});

test('a renewed certificate: the hook restarts etcd and the tls gate sees the new certificate', async () => {
  const before = new X509Certificate(readFileSync(join(ctx.dir!, 'pki/etcd.pem'))).fingerprint256;
  const pidBefore = ctx.etcd!.pid();
  await setRequest('etcd.test', 'etcd.test, etcd2.test');
  const run = await cycle({ dir: ctx.dir! });
  assert.ok(run.report.ok, JSON.stringify(run.report.hooks, null, 1) + readFileSync(join(ctx.dir!, 'etcd.log'), 'utf8').slice(-3000));
  const hook = run.report.hooks[0] as { name: string; status: string; gate?: { ok: boolean; detail: string } };
  assert.is(hook.status, 'ok');
  const after = new X509Certificate(readFileSync(join(ctx.dir!, 'pki/etcd.pem'))).fingerprint256;
  assert.is.not(after, before);
  assert.match(hook.gate!.detail, new RegExp(after.replace(/:/g, ':')));
  assert.match(hook.gate!.detail, /the certificate just written/);
  assert.is.not(ctx.etcd!.pid(), pidBefore, 'etcd was restarted');
});

test('rollback: a certificate for the wrong name fails the tls gate, the old files come back byte for byte, etcd is healthy again, and the next cycle does not re-apply it', async () => {
  const cert = readFileSync(join(ctx.dir!, 'pki/etcd.pem'));
  const key = readFileSync(join(ctx.dir!, 'pki/etcd-key.pem'));
  await setRequest('wrong.test', 'wrong.test');
  const run = await cycle({ dir: ctx.dir! });
  assert.not.ok(run.report.ok);
  const hooks = run.report.hooks as { phase: string; status: string; reason?: string; gate?: { ok: boolean; detail: string } }[];
  assert.equal(hooks.map((h) => [h.phase, h.status]), [['apply', 'failed'], ['rollback', 'ok']]);
  assert.match(hooks[0].reason!, /not valid for "etcd\.test"/, hooks[0].reason);
  assert.ok(readFileSync(join(ctx.dir!, 'pki/etcd.pem')).equals(cert), 'certificate restored byte for byte');
  assert.ok(readFileSync(join(ctx.dir!, 'pki/etcd-key.pem')).equals(key), 'key restored byte for byte');
  const healthy = await served(ctx.etcd!, ctx.dir!);
  assert.ok(healthy.ok, `etcd serves the restored certificate: ${healthy.detail}`);

  const pid = ctx.etcd!.pid();
  const next = await cycle({ dir: ctx.dir! });
  assert.equal(next.report.issuances.map((i) => i.reason), ['quarantined']);
  assert.equal(next.report.hooks, [], 'no restart loop');
  assert.is(ctx.etcd!.pid(), pid);
  assert.ok(readFileSync(join(ctx.dir!, 'pki/etcd.pem')).equals(cert));
});

test.run();
