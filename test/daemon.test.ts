/**
 * `certrender run` as an operator runs it: the real process, real OpenBao, real
 * signals, then a look at the disk.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, freePort } from './helpers/tmp.js';
import { writeTree } from './helpers/cycle.js';
import { startCli, logEvents, type CliResult } from './helpers/cli.js';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';

const test = suite('certrender run');
const ctx: { bao?: OpenBao } = {};
const daemons = new Set<ChildProcess>();

test.before(async () => {
  ctx.bao = await startOpenBao({ auditLog: true });
  await setupPki(ctx.bao, { mount: 'pki', role: 'short', maxTtl: '30s' });
});
test.after(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  await ctx.bao?.stop();
});

interface Running {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** Log events so far. */
  events(): Record<string, any>[];
  waitFor(pred: (e: Record<string, any>, index: number) => boolean, ms?: number, what?: string): Promise<Record<string, any>>;
}

function run(dir: string, env: Record<string, string> = {}, args: string[] = [], bin: 'source' | 'dist' = 'source'): Running {
  let stderr = '';
  const { child, done } = startCli(['run', '--config', 'certrender.hcl', '--log-level', 'debug', ...args], { cwd: dir, env: { VAULT_TOKEN: ctx.bao!.token, ...env }, bin });
  daemons.add(child);
  child.stderr!.on('data', (c) => (stderr += c));
  done.then(() => daemons.delete(child));
  const events = () => logEvents(stderr.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).join('\n'));
  return {
    child,
    done,
    events,
    async waitFor(pred, ms = 20_000, what = 'event') {
      const end = Date.now() + ms;
      for (;;) {
        const e = events().find((x, i) => pred(x, i));
        if (e) return e;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last events: ${events().slice(-5).map((x) => x.event).join(', ')}\n${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const count = (r: Running, event: string, pred: (e: Record<string, any>) => boolean = () => true) => r.events().filter((e) => e.event === event && pred(e)).length;

function vaultConfig(dir: string, extra = ''): string {
  return `
state_dir = "state"
check_schedule = "0 0 1 1 *"
vault {
  address = "${ctx.bao!.addr}"
  retry {
    attempts = 1
    backoff  = "50ms"
  }
  timeout = "2s"
}
${extra}
template {
  source      = "tpl/a.pem.njk"
  destination = "out/a.pem"
}
template {
  source      = "tpl/b.pem.njk"
  destination = "out/b.pem"
}
`;
}

const shortCert = (cn: string) => `{{ secret("pki/issue/short", "common_name=${cn}", "ttl=30s").Data.certificate }}\n`;

test('renews short-lived certificates within their jittered window, at different times; survives an OpenBao outage', async () => {
  const dir = await makeTempDir('cr-run');
  const port = await freePort();
  await writeTree(dir, { 'certrender.hcl': vaultConfig(dir, `listen = "127.0.0.1:${port}"`), 'tpl/a.pem.njk': shortCert('a.test'), 'tpl/b.pem.njk': shortCert('b.test') });
  const health = async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  const d = run(dir);
  await d.waitFor((e) => e.event === 'cycle_finished' && e.reason === 'start', 30_000, 'first cycle');
  const issued = d.events().filter((e) => e.event === 'issuance_issued');
  assert.is(issued.length, 2);
  const renewAt = issued.map((e) => Date.parse(e.renew_at));
  assert.is.not(renewAt[0], renewAt[1], 'jitter drawn per issuance: certificates issued together renew apart');
  for (const e of issued) {
    const cert = new X509Certificate(readFileSync(join(dir, e.destinations[0].slice(dir.length + 1))));
    const nb = Date.parse(cert.validFrom);
    const life = Date.parse(cert.validTo) - nb;
    const at = Date.parse(e.renew_at);
    assert.ok(at <= nb + (2 / 3) * life + 1000 && at >= nb + (2 / 3 - 0.05) * life - 1000, `renewal point inside [2/3-5%, 2/3] of the lifetime`);
  }
  // both renew on their own, each within its window
  const renewed = await d.waitFor((e) => e.event === 'issuance_issued' && e.reason === 'in_window' && e.destinations[0].endsWith('a.pem'), 30_000, 'renewal of a');
  await d.waitFor((e) => e.event === 'issuance_issued' && e.reason === 'in_window' && e.destinations[0].endsWith('b.pem'), 30_000, 'renewal of b');
  // Within its window: not before its renewal point, and before the old certificate expired.
  const renewedAt = Date.parse(renewed.time);
  const firstA = issued.find((e) => e.destinations[0].endsWith('a.pem'))!;
  assert.ok(renewedAt >= Date.parse(firstA.renew_at) - 50, `not renewed early (${renewed.time} vs ${firstA.renew_at})`);
  assert.ok(renewedAt < Date.parse(firstA.not_after), `renewed before expiry (${renewed.time} vs ${firstA.not_after})`);

  // OpenBao unreachable: the files stay, errors are reported, the daemon lives on.
  await ctx.bao!.pause();
  try {
    await d.waitFor((e) => e.event === 'issuance_failed', 40_000, 'a failed renewal while OpenBao is down');
    // A response received just before the pause may still land; from the first failure on, nothing may change.
    const frozen = { a: readFileSync(join(dir, 'out/a.pem')), b: readFileSync(join(dir, 'out/b.pem')) };
    const failures = count(d, 'issuance_failed');
    await d.waitFor(() => count(d, 'issuance_failed') > failures, 40_000, 'a second failed attempt');
    assert.ok(readFileSync(join(dir, 'out/a.pem')).equals(frozen.a) && readFileSync(join(dir, 'out/b.pem')).equals(frozen.b), 'files untouched while OpenBao is down');
    assert.ok(existsSync(join(dir, 'out/a.pem')) && existsSync(join(dir, 'out/b.pem')), 'files never deleted');
    for (const f of ['out/a.pem', 'out/b.pem']) new X509Certificate(readFileSync(join(dir, f))); // still parse
    assert.is(d.child.exitCode, null, 'still running');
    const retry = await d.waitFor((e) => e.event === 'cycle_finished' && e.failures > 0, 10_000, 'a failed cycle');
    // After a failure it sleeps (a backoff retry, or an earlier renewal point): it never spins on Vault.
    assert.ok(['retry', 'renewal'].includes(retry.next_reason), retry.next_reason);
    assert.ok(Date.parse(retry.next_wake) > Date.parse(retry.time), `wakes later: ${retry.next_wake} after ${retry.time}`);
    assert.is(await health(), 503, '/healthz is unhealthy: a due renewal could not be made');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const networkErrors = /^certrender_vault_errors_total\{status="network"\} (\d+)$/m.exec(metrics);
    assert.ok(networkErrors && Number(networkErrors[1]) > 0, `Vault errors counted by status:\n${metrics.split('\n').filter((l) => l.includes('vault_errors')).join('\n')}`);
  } finally {
    ctx.bao!.resume();
  }
  // Recovery on its own, no restart: a renewal issued after the resume, then a clean cycle.
  const seen = d.events().length;
  const after = (pred: (e: Record<string, any>) => boolean) => (e: Record<string, any>, i: number) => i >= seen && pred(e);
  await d.waitFor(after((e) => e.event === 'issuance_issued'), 90_000, 'a renewal after OpenBao is back');
  await d.waitFor(after((e) => e.event === 'cycle_finished' && e.failures === 0), 60_000, 'a clean cycle');
  assert.is(await health(), 200, '/healthz recovers with OpenBao');
  d.child.kill('SIGTERM');
  const end = await d.done;
  assert.is(end.code, 0);
});

test('SIGHUP: a broken config keeps the old one running; a fixed one renders the new templates', async () => {
  const dir = await makeTempDir('cr-run');
  await writeTree(dir, {
    'certrender.hcl': `state_dir = "state"\nlocal_ca {}\ntemplate {\n  contents = "one"\n  destination = "out/one.txt"\n}\n`,
  });
  const d = run(dir);
  await d.waitFor((e) => e.event === 'cycle_finished', 20_000);
  writeFileSync(join(dir, 'certrender.hcl'), `state_dir = "state"\nlocal_ca {}\ntemplate {\n  contents = "one"\n  destinaton = "out/one.txt"\n}\n`);
  d.child.kill('SIGHUP');
  const failed = await d.waitFor((e) => e.event === 'reload_failed', 20_000);
  assert.match(JSON.stringify(failed), /destinaton/);
  assert.is(d.child.exitCode, null);
  writeFileSync(
    join(dir, 'certrender.hcl'),
    `state_dir = "state"\nlocal_ca {}\ntemplate {\n  contents = "one"\n  destination = "out/one.txt"\n}\ntemplate {\n  contents = "two"\n  destination = "out/two.txt"\n}\n`,
  );
  d.child.kill('SIGHUP');
  await d.waitFor((e) => e.event === 'config_reloaded', 20_000);
  for (let i = 0; i < 100 && !existsSync(join(dir, 'out/two.txt')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.is(readFileSync(join(dir, 'out/two.txt'), 'utf8'), 'two');
  d.child.kill('SIGTERM');
  assert.is((await d.done).code, 0);
});

test('a deleted key file is restored byte-identical without a new issuance; SIGTERM exits 0 leaving no temp file', async () => {
  const dir = await makeTempDir('cr-run');
  const call = 'secret("pki/issue/w", "common_name=w.test")';
  await writeTree(dir, {
    'certrender.hcl': `state_dir = "state"\nlocal_ca {}\ntemplate {\n  contents = "{{ ${call.replace(/"/g, '\\"')}.Data.certificate }}"\n  destination = "out/w.pem"\n}\ntemplate {\n  contents = "{{ ${call.replace(/"/g, '\\"')}.Data.private_key }}"\n  destination = "out/w-key.pem"\n}\n`,
  });
  const d = run(dir);
  await d.waitFor((e) => e.event === 'cycle_finished', 20_000);
  await new Promise((r) => setTimeout(r, 500)); // watches armed after the first cycle
  const key = readFileSync(join(dir, 'out/w-key.pem'));
  rmSync(join(dir, 'out/w-key.pem'));
  await d.waitFor((e) => e.event === 'destination_drifted', 20_000, 'drift noticed');
  for (let i = 0; i < 100 && !existsSync(join(dir, 'out/w-key.pem')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(readFileSync(join(dir, 'out/w-key.pem')).equals(key), 'restored byte-identical');
  assert.is(count(d, 'issuance_issued'), 1, 'no new issuance');
  const cert = new X509Certificate(readFileSync(join(dir, 'out/w.pem')));
  assert.ok(cert.checkPrivateKey(createPrivateKey(key)));
  const t0 = Date.now();
  d.child.kill('SIGTERM');
  const end = await d.done;
  assert.is(end.code, 0);
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(readdirSync(join(dir, 'out')).filter((f) => f.includes('.certrender-') || f.endsWith('.tmp')), []);
  assert.not.ok(existsSync(join(dir, 'state/certrender.lock')), 'lock released');
});

test('SIGTERM while a hook runs: the hook finishes, then exit 0; a second signal exits at once', async () => {
  const config = (seconds: number) => `state_dir = "state"
local_ca {}
hook "slow" {
  command = ["sleep", "${seconds}"]
  order   = 1
  timeout = "60s"
}
template {
  contents    = "x"
  destination = "out/x.txt"
  notify      = ["slow"]
}
`;
  const graceful = await makeTempDir('cr-run');
  await writeTree(graceful, { 'certrender.hcl': config(2) });
  const g = run(graceful);
  await g.waitFor((e) => e.event === 'hook_started', 20_000);
  g.child.kill('SIGTERM');
  const end = await g.done;
  assert.is(end.code, 0);
  const order = g.events().map((e) => e.event).filter((e) => ['daemon_stopping', 'hook_finished', 'daemon_stopped'].includes(e));
  assert.equal(order, ['daemon_stopping', 'hook_finished', 'daemon_stopped'], 'the hook in flight completed before the stop');

  const impatient = await makeTempDir('cr-run');
  await writeTree(impatient, { 'certrender.hcl': config(8) });
  const i = run(impatient);
  await i.waitFor((e) => e.event === 'hook_started', 20_000);
  i.child.kill('SIGTERM');
  await i.waitFor((e) => e.event === 'daemon_stopping', 10_000);
  i.child.kill('SIGTERM');
  const fast = await i.done;
  assert.is(fast.code, 130, 'the second signal exits at once');
  assert.ok(i.events().some((e) => e.event === 'daemon_exit_now'));
  assert.not.ok(existsSync(join(impatient, 'state/certrender.lock')), 'the lock is released even then');
});

test('a renewable VAULT_TOKEN with a 6 s TTL is renewed on its timer and outlives it; with renew_token = false it expires', async () => {
  const bao = ctx.bao!;
  const mint = async () => (await bao.api('POST', 'auth/token/create', { policies: ['root'], ttl: '6s', renewable: true })).auth.client_token as string;
  const lookup = async (token: string) => (await fetch(`${bao.addr}/v1/auth/token/lookup`, { method: 'POST', headers: { 'X-Vault-Token': bao.token }, body: JSON.stringify({ token }) })).status;
  const start = async (extra: string) => {
    const dir = await makeTempDir('cr-run-token');
    await writeTree(dir, { 'certrender.hcl': vaultConfig(dir).replace('  timeout = "2s"\n}', '  timeout = "2s"\n' + extra + '}'), 'tpl/a.pem.njk': shortCert('tok-a.test'), 'tpl/b.pem.njk': shortCert('tok-b.test') });
    return dir;
  };
  const renewed = await mint();
  const d = run(await start(''), { VAULT_TOKEN: renewed });
  await d.waitFor((e) => e.event === 'cycle_finished', 20_000, 'the first cycle');
  // Three TTLs later the token is still alive: only renewals could keep it.
  await d.waitFor((e) => e.event === 'vault_token_renewed' && count(d, 'vault_token_renewed') >= 3, 20_000, 'three renewals');
  assert.is(await lookup(renewed), 200, 'the renewed token is still valid');
  d.child.kill('SIGTERM');
  assert.is((await d.done).code, 0);

  const left = await mint();
  const off = run(await start('  renew_token = false\n'), { VAULT_TOKEN: left });
  await off.waitFor((e) => e.event === 'cycle_finished', 20_000, 'the first cycle');
  await new Promise((r) => setTimeout(r, 8_000));
  assert.is(count(off, 'vault_token_renewed'), 0);
  assert.is.not(await lookup(left), 200, 'left alone, the token expired');
  off.child.kill('SIGTERM');
  assert.is((await off.done).code, 0);
});

test('a second daemon on the same state directory exits with the lock message', async () => {
  const dir = await makeTempDir('cr-run');
  await writeTree(dir, { 'certrender.hcl': `state_dir = "state"\ntemplate {\n  contents = "x"\n  destination = "out/x.txt"\n}\n` });
  const first = run(dir);
  await first.waitFor((e) => e.event === 'cycle_finished', 20_000);
  const second = await startCli(['run', '--config', 'certrender.hcl'], { cwd: dir }).done;
  assert.is(second.code, 4);
  assert.match(second.stderr, new RegExp(`another certrender \\(pid ${first.child.pid}\\) is running on the state directory`));
  // `renew --now` reaches the running daemon through the state directory (SIGUSR1).
  const renew = await startCli(['renew', '--now', '--config', 'certrender.hcl'], { cwd: dir }).done;
  assert.is(renew.code, 0, renew.stderr);
  await first.waitFor((e) => e.event === 'cycle_started' && e.reason === 'signal', 20_000, 'a cycle on SIGUSR1');
  first.child.kill('SIGTERM');
  assert.is((await first.done).code, 0);
});

test('SIGKILL during a swap, then start again: no group half old, half new', async () => {
  const dir = await makeTempDir('cr-run');
  const tpl = (field: string) => `{{ secret("pki/issue/k", "common_name=k.test").Data.${field} }}\n`;
  await writeTree(dir, {
    'certrender.hcl': `state_dir = "state"\nlocal_ca {}\ntemplate {\n  source = "c.njk"\n  destination = "out/k.pem"\n}\ntemplate {\n  source = "k.njk"\n  destination = "out/k-key.pem"\n}\n`,
    'c.njk': tpl('certificate'),
    'k.njk': tpl('private_key'),
  });
  const marker = join(dir, 'paused');
  const d = run(dir, { CERTRENDER_TEST_PAUSE_AT: 'after_rename:0', CERTRENDER_TEST_PAUSE_FILE: marker });
  for (let i = 0; i < 300 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(marker));
  d.child.kill('SIGKILL');
  await d.done;
  const again = run(dir);
  await again.waitFor((e) => e.event === 'cycle_finished', 20_000);
  assert.ok(again.events().some((e) => e.event === 'journal_recovered'));
  const cert = new X509Certificate(readFileSync(join(dir, 'out/k.pem')));
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'out/k-key.pem')))), 'cert and key belong together');
  again.child.kill('SIGTERM');
  assert.is((await again.done).code, 0);
});

test('the built binary (the bundle): systemd READY=1 on NOTIFY_SOCKET after the first cycle; /metrics and /healthz when listen is set', async () => {
  const dir = await makeTempDir('cr-run');
  const port = await freePort();
  await writeTree(dir, {
    'certrender.hcl': `state_dir = "state"\nlisten = "127.0.0.1:${port}"\nlocal_ca {}\ntemplate {\n  contents = "{{ secret(\\"pki/issue/m\\", \\"common_name=m.test\\").Data.certificate }}"\n  destination = "out/m.pem"\n}\n`,
  });
  // A small receiver on a Unix datagram socket (Node cannot bind one): python3.
  const sock = join(dir, 'notify.sock');
  const got = join(dir, 'notify.txt');
  const receiver = spawn('python3', ['-c', `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nopen(sys.argv[2]+'.bound','w').close()\nd=s.recv(4096)\nopen(sys.argv[2],'wb').write(d)`, sock, got]);
  for (let i = 0; i < 100 && !existsSync(got + '.bound'); i++) await new Promise((r) => setTimeout(r, 50));
  // Through bin/certrender, as systemd starts it: the daemon's lazily loaded parts (node-cron,
  // chokidar, prom-client) are proven to load from the bundle.
  const d = run(dir, { NOTIFY_SOCKET: sock }, [], 'dist');
  try {
    await d.waitFor((e) => e.event === 'systemd_ready', 20_000);
    for (let i = 0; i < 100 && !existsSync(got); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(readFileSync(got, 'utf8'), /READY=1/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /certrender_certificate_not_after_seconds\{destination=".*m\.pem"\} \d+/);
    assert.match(metrics, /certrender_issuances_total\{reason="missing"\} 1/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.is(health.status, 200);
    d.child.kill('SIGTERM');
    assert.is((await d.done).code, 0, 'the bundle stops cleanly on SIGTERM');
  } finally {
    receiver.kill();
    d.child.kill('SIGTERM');
    await d.done;
  }
});

test.run();
