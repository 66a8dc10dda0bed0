import { X509Certificate } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { rotateRoot, setupPki } from './helpers/openbao-pki.js';

const started: OpenBao[] = [];
async function start(opts?: { auditLog?: boolean }): Promise<OpenBao> {
  const bao = await startOpenBao(opts);
  started.push(bao);
  return bao;
}
test.after(async () => {
  await Promise.all(started.map((bao) => bao.stop()));
});

const issuedBy = (certPem: string, caPem: string) => new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const reachable = (addr: string) =>
  fetch(`${addr}/v1/sys/health`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);

test('issues through the API and the audit log counts exactly that issuance', async () => {
  const bao = await start({ auditLog: true });
  const { caPem } = await setupPki(bao);
  assert.is(await bao.countRequests({ operation: 'update', pathIncludes: '/issue/' }), 0);

  const res = await bao.api('POST', 'pki/issue/server', { common_name: 'svc.example.test', ip_sans: '127.0.0.1', ttl: '1h' });
  assert.ok(issuedBy(res.data.certificate, caPem));
  assert.match(new X509Certificate(res.data.certificate).subjectAltName ?? '', 'IP Address:127.0.0.1');
  assert.is(await bao.countRequests({ operation: 'update', pathIncludes: '/issue/' }), 1);
  assert.is(await bao.countRequests({ operation: 'update', pathPrefix: 'pki/issue/server' }), 1);

  const cli = await bao.bao(['write', '-format=json', 'pki/issue/server', 'common_name=cli.example.test']);
  assert.is(cli.code, 0, cli.stderr);
  assert.ok(issuedBy(JSON.parse(cli.stdout).data.certificate, caPem));
  assert.is(await bao.countRequests({ operation: 'update', pathIncludes: '/issue/' }), 2);
});

test('api throws with the HTTP status; the CLI reports failures as data', async () => {
  const bao = await start();
  const err = await bao.api('GET', 'nope/nothing').then(() => undefined, (e: unknown) => e);
  assert.is((err as { status?: number })?.status, 404);
  const cli = await bao.bao(['read', 'nope/nothing']);
  assert.is.not(cli.code, 0);
  assert.not.ok(bao.auditLogPath);
});

test('setupPki honours allowedDomains and maxTtl; rotateRoot makes a new root the default issuer', async () => {
  const bao = await start();
  const { caPem } = await setupPki(bao, { mount: 'pki-rot', allowedDomains: ['example.test'], maxTtl: '720h' });
  const refused = await bao.api('POST', 'pki-rot/issue/server', { common_name: 'svc.other.test' }).then(() => undefined, (e: unknown) => e);
  assert.is((refused as { status?: number })?.status, 400);

  const newCa = await rotateRoot(bao, 'pki-rot');
  assert.is.not(newCa, caPem);
  const res = await bao.api('POST', 'pki-rot/issue/server', { common_name: 'after.example.test' });
  assert.ok(issuedBy(res.data.certificate, newCa));
  assert.not.ok(issuedBy(res.data.certificate, caPem));
  const cert = new X509Certificate(res.data.certificate);
  const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
  assert.ok(Math.abs(lifetime - (720 * 3600 + 30) * 1000) <= 1000, `max_ttl plus the 30 s backdate, got ${lifetime} ms`);
});

test('a second server runs beside the first, and stop() leaves no process', async () => {
  const one = await start();
  const two = await start();
  assert.is.not(one.addr, two.addr);
  await setupPki(two);
  const mounts = await one.api('GET', 'sys/mounts');
  assert.not.ok('pki/' in mounts.data, 'servers share no state');

  const pid = two.pid!;
  assert.ok(isRunning(pid));
  await two.stop();
  assert.is(two.pid, undefined);
  assert.not.ok(isRunning(pid));
  assert.not.ok(await reachable(two.addr));
});

test('pause/resume makes the server unreachable without losing data; stop/start loses it', async () => {
  const bao = await start();
  await setupPki(bao);
  await bao.pause();
  assert.not.ok(await reachable(bao.addr));
  bao.resume();
  assert.ok(await reachable(bao.addr));
  assert.ok('pki/' in (await bao.api('GET', 'sys/mounts')).data);

  await bao.stop();
  await bao.start();
  assert.ok(await reachable(bao.addr));
  assert.not.ok('pki/' in (await bao.api('GET', 'sys/mounts')).data, 'dev mode is in-memory');
});

test.run();
