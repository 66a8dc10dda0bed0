/**
 * Hooks in the render cycle, with real processes and the embedded local CA: order,
 * once per cycle, stop at a failing gate, rollback and quarantine. (The TLS gate
 * against a real etcd is in hooks-etcd.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/tmp.js';
import { cycle, writeTree } from './helpers/cycle.js';

const tpl = (san: string, field: string) =>
  `{{ secret("pki/issue/web", "common_name=web.test", "alt_names=${san}", "ttl=24h").Data.${field} }}\n`;

function writeConfig(dir: string, opts: { hooks: Record<string, unknown>; notify: string[] }) {
  writeFileSync(
    join(dir, 'certrender.hcl'),
    JSON.stringify({
      state_dir: 'state',
      local_ca: {},
      hook: opts.hooks,
      template: [
        { source: 'tpl/cert.njk', destination: 'out/web.pem', notify: opts.notify },
        { source: 'tpl/key.njk', destination: 'out/web-key.pem', notify: opts.notify },
      ],
    }),
  );
}

const append = (dir: string, word: string) => ({ command: `echo ${word} >> ${join(dir, 'hooks.log')}`, shell: true });
const hookLog = (dir: string) => (existsSync(join(dir, 'hooks.log')) ? readFileSync(join(dir, 'hooks.log'), 'utf8').trim().split('\n') : []);

test('notified hooks run once each, in declared order, with CERTRENDER_CHANGED', async () => {
  const dir = await makeTempDir('cr-hooks');
  await writeTree(dir, { 'tpl/cert.njk': tpl('a.test', 'certificate'), 'tpl/key.njk': tpl('a.test', 'private_key') });
  writeConfig(dir, {
    hooks: {
      b: { ...append(dir, 'b'), order: 20 },
      a: { command: `printf '%s\\n' "$CERTRENDER_CHANGED" > ${join(dir, 'changed.txt')}; echo a >> ${join(dir, 'hooks.log')}`, shell: true, order: 10 },
    },
    notify: ['b', 'a'],
  });
  const run = await cycle({ dir });
  assert.ok(run.report.ok, JSON.stringify(run.report.hooks));
  assert.equal(hookLog(dir), ['a', 'b'], 'each hook once, by order, although two templates notify both');
  assert.equal(readFileSync(join(dir, 'changed.txt'), 'utf8').trim().split('\n').sort(), [join(dir, 'out/web-key.pem'), join(dir, 'out/web.pem')]);
  assert.ok(run.events.some((e) => e.event === 'hook_started') && run.events.some((e) => e.event === 'hook_finished'));
  const again = await cycle({ dir });
  assert.equal(again.report.hooks, [], 'nothing written, nothing run');
  assert.equal(hookLog(dir), ['a', 'b']);
  const plan = await cycle({ dir, mode: 'plan', forceRenew: ['all'] });
  assert.equal(plan.report.hooks.map((h) => [h.name, h.status]), [['a', 'would_run'], ['b', 'would_run']]);
});

test('three hooks, the second gate fails: the third never runs and the report says why', async () => {
  const dir = await makeTempDir('cr-hooks');
  await writeTree(dir, { 'tpl/cert.njk': tpl('a.test', 'certificate'), 'tpl/key.njk': tpl('a.test', 'private_key') });
  writeConfig(dir, {
    hooks: {
      first: { ...append(dir, 'first'), order: 1 },
      second: { ...append(dir, 'second'), order: 2, gate: { type: 'exec', command: ['/bin/false'], interval: '50ms', timeout: '300ms' } },
      third: { ...append(dir, 'third'), order: 3 },
    },
    notify: ['first', 'second', 'third'],
  });
  const run = await cycle({ dir });
  assert.not.ok(run.report.ok);
  assert.equal(hookLog(dir), ['first', 'second']);
  assert.equal(run.report.hooks.map((h) => [h.name, h.status]), [['first', 'ok'], ['second', 'failed'], ['third', 'skipped']]);
  const second = run.report.hooks[1] as { reason?: string; gate?: { attempts: number } };
  assert.match(second.reason!, /gate \(exec\) did not pass after \d+ attempt/);
  assert.ok(second.gate!.attempts >= 2, 'the gate was polled');
  assert.match((run.report.hooks[2] as { reason?: string }).reason!, /hook "second" failed/);
  assert.ok(existsSync(join(dir, 'out/web.pem')), 'stop keeps the files (the service may recover; the next cycle retries)');

  // Nothing changes on disk, yet the next cycle runs the hooks that did not complete: the
  // service must still be restarted onto the files already written.
  writeConfig(dir, {
    hooks: {
      first: { ...append(dir, 'first'), order: 1 },
      second: { ...append(dir, 'second'), order: 2, gate: { type: 'exec', command: ['/bin/true'], interval: '50ms', timeout: '300ms' } },
      third: { ...append(dir, 'third'), order: 3 },
    },
    notify: ['first', 'second', 'third'],
  });
  const retry = await cycle({ dir });
  assert.ok(retry.report.ok, JSON.stringify(retry.report.hooks));
  assert.ok(retry.report.files.every((f) => f.action === 'unchanged'));
  assert.equal(retry.report.hooks.map((h) => [h.name, h.status]), [['second', 'ok'], ['third', 'ok']]);
  assert.equal(hookLog(dir), ['first', 'second', 'second', 'third']);
  const quiet = await cycle({ dir });
  assert.equal(quiet.report.hooks, [], 'nothing pending any more');
});

test('a hook that hangs is ended at its timeout and fails', async () => {
  const dir = await makeTempDir('cr-hooks');
  await writeTree(dir, { 'tpl/cert.njk': tpl('a.test', 'certificate'), 'tpl/key.njk': tpl('a.test', 'private_key') });
  writeConfig(dir, { hooks: { hang: { command: ['sleep', '60'], order: 1, timeout: '200ms', grace: '200ms' } }, notify: ['hang'] });
  const run = await cycle({ dir });
  const h = run.report.hooks[0] as { status: string; timedOut?: boolean; durationMs?: number };
  assert.is(h.status, 'failed');
  assert.ok(h.timedOut);
});

test('rollback: a certificate the gate refuses is taken back byte for byte, the hook re-run, and the request quarantined', async () => {
  const dir = await makeTempDir('cr-hooks');
  // The gate stands in for "the service accepts its certificate": it passes only for alt.web.test.
  const gate = { type: 'exec', command: `openssl x509 -in ${join(dir, 'out/web.pem')} -noout -ext subjectAltName | grep -q alt.web.test`, interval: '50ms', timeout: '400ms' };
  const hooks = { reload: { ...append(dir, 'reload'), order: 1, on_failure: 'rollback', gate } };
  await writeTree(dir, { 'tpl/cert.njk': tpl('alt.web.test', 'certificate'), 'tpl/key.njk': tpl('alt.web.test', 'private_key') });
  writeConfig(dir, { hooks, notify: ['reload'] });
  const good = await cycle({ dir });
  assert.ok(good.report.ok, JSON.stringify(good.report.hooks));
  const before = { cert: readFileSync(join(dir, 'out/web.pem')), key: readFileSync(join(dir, 'out/web-key.pem')) };

  await writeTree(dir, { 'tpl/cert.njk': tpl('wrong.web.test', 'certificate'), 'tpl/key.njk': tpl('wrong.web.test', 'private_key') });
  const bad = await cycle({ dir });
  assert.not.ok(bad.report.ok);
  assert.equal(bad.report.issuances.map((i) => [i.action, i.reason]), [['issue', 'request_changed']]);
  assert.equal(bad.report.groups.map((g) => g.status), ['rolled_back']);
  assert.ok(readFileSync(join(dir, 'out/web.pem')).equals(before.cert), 'certificate restored byte for byte');
  assert.ok(readFileSync(join(dir, 'out/web-key.pem')).equals(before.key), 'key restored byte for byte');
  assert.equal(bad.report.hooks.map((h) => [h.name, h.phase, h.status]), [['reload', 'apply', 'failed'], ['reload', 'rollback', 'ok']]);
  assert.equal(hookLog(dir), ['reload', 'reload', 'reload'], 'first cycle, the failed apply, the rollback re-run');

  const next = await cycle({ dir });
  assert.equal(next.report.issuances.map((i) => [i.action, i.reason]), [['reuse', 'quarantined']], 'no new issuance for the same request');
  assert.ok(next.report.files.every((f) => f.action === 'unchanged'), 'the rolled-back certificate is not applied again');
  assert.equal(next.report.hooks, []);
  assert.ok(readFileSync(join(dir, 'out/web.pem')).equals(before.cert));

  const forced = await cycle({ dir, forceRenew: ['all'] });
  assert.equal(forced.report.issuances.map((i) => [i.action, i.reason]), [['issue', 'forced']], '--force-renew lifts the quarantine');
});

test.run();
