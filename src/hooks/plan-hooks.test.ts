import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configSchema } from '../config/schema.js';
import { commandArgv, planHooks } from './plan-hooks.js';

const config = configSchema.parse({
  hook: {
    apiserver: { command: ['systemctl', 'restart', 'kube-apiserver'], order: 20, gate: { type: 'tls', address: '127.0.0.1:6443', expect_cert: 'pki/apiserver.pem' } },
    etcd: { command: 'systemctl restart etcd', order: 10, on_failure: 'rollback' },
    kubelet: { command: ['systemctl', 'restart', 'kubelet'], order: 30 },
  },
  template: [
    { contents: 'a', destination: '/pki/apiserver.pem', notify: ['apiserver', 'etcd'] },
    { contents: 'b', destination: '/pki/etcd.pem', notify: ['etcd'], command: 'echo changed' },
    { contents: 'c', destination: '/pki/kubelet.pem', notify: ['kubelet'], command: ['echo', 'changed'] },
    { contents: 'd', destination: '/pki/x.pem', command: 'echo changed' },
  ],
});

test('notified hooks once each, in declared order; implicit commands after, deduplicated by argv', () => {
  const hooks = planHooks({ config, baseDir: '/etc/cr', written: new Map([[1, ['/pki/etcd.pem']], [0, ['/pki/apiserver.pem']], [3, ['/pki/x.pem']]]) });
  assert.equal(hooks.map((h) => h.name), ['etcd', 'apiserver', 'command: echo changed']);
  assert.equal(hooks[0].changed, ['/pki/apiserver.pem', '/pki/etcd.pem']);
  assert.equal(hooks[0].onFailure, 'rollback');
  assert.equal(hooks[1].onFailure, 'stop', 'the global default');
  assert.is(hooks[1].gate!.expect_cert, '/etc/cr/pki/apiserver.pem', 'gate paths resolve against the base dir');
  assert.equal(hooks[2].changed, ['/pki/etcd.pem', '/pki/x.pem'], 'one run for both templates');
  assert.ok(hooks[2].shell);
});

test('a group that was not written notifies nothing', () => {
  assert.equal(planHooks({ config, baseDir: '/', written: new Map() }), []);
  assert.equal(planHooks({ config, baseDir: '/', written: new Map([[2, ['/pki/kubelet.pem']]]) }).map((h) => [h.name, h.shell]), [
    ['kubelet', false],
    ['command: echo changed', false],
  ]);
});

test('consul-template command forms', () => {
  assert.equal(commandArgv('systemctl restart etcd'), { argv: ['systemctl restart etcd'], shell: true });
  assert.equal(commandArgv('/usr/bin/reload'), { argv: ['/usr/bin/reload'], shell: false });
  assert.equal(commandArgv('a,b'), { argv: ['a', 'b'], shell: false });
  assert.equal(commandArgv(['systemctl', 'restart', 'etcd']), { argv: ['systemctl', 'restart', 'etcd'], shell: false });
  assert.equal(commandArgv(['systemctl restart etcd']), { argv: ['systemctl restart etcd'], shell: true });
});

test('config errors: unknown hook names and duplicate orders', () => {
  const r = configSchema.safeParse({
    hook: { a: { command: 'x', order: 1 }, b: { command: 'y', order: 1 } },
    template: [{ contents: 'a', destination: '/x', notify: ['nope'] }],
  });
  assert.not.ok(r.success);
  const paths = r.error!.issues.map((i) => i.path.join('.')).sort();
  assert.equal(paths, ['hook.b.order', 'template.0.notify.0']);
  const gate = configSchema.safeParse({ hook: { a: { command: 'x', order: 1, gate: { type: 'tls' } } } });
  assert.equal(gate.error!.issues.map((i) => i.path.join('.')), ['hook.a.gate.address']);
});

test.run();
