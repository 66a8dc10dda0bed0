import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { modeFor, planGroups, type DesiredOutput, type OnDisk } from './plan-groups.js';

const out = (index: number, destination: string, content: string | undefined, links: string[] = [], extra: Partial<DesiredOutput> = {}): DesiredOutput => ({
  index,
  name: `t${index}`,
  destination,
  content,
  links,
  backup: false,
  createDirs: true,
  ...extra,
});
const disk = (entries: Record<string, OnDisk>) => new Map(Object.entries(entries));

test('templates fed by one issuance form one group; others stand alone', () => {
  const groups = planGroups({
    outputs: [out(0, '/a/ca.pem', 'CA'), out(1, '/a/c.pem', 'C', ['i1']), out(2, '/a/k.pem', 'K', ['i1']), out(3, '/a/x.pem', 'X', ['i2'])],
    disk: disk({}),
  });
  assert.equal(
    groups.map((g) => g.outputs.map((o) => o.destination)),
    [['/a/ca.pem'], ['/a/c.pem', '/a/k.pem'], ['/a/x.pem']],
  );
  assert.ok(groups.every((g) => g.status === 'changed'));
});

test('groups chain transitively and group ids are stable', () => {
  const outputs = [out(0, '/c', 'c', ['i1']), out(1, '/k', 'k', ['i1', 'i2']), out(2, '/x', 'x', ['i2'])];
  const a = planGroups({ outputs, disk: disk({}) });
  const b = planGroups({ outputs: [...outputs].reverse().map((o, i) => ({ ...o, index: i })), disk: disk({}) });
  assert.is(a.length, 1);
  assert.is(a[0].id, b[0].id);
});

test('one blocked template blocks its whole group, not the others', () => {
  const groups = planGroups({
    outputs: [out(0, '/c', 'c', ['i1']), out(1, '/k', undefined, ['i1'], { blocked: { status: 'failed', reason: 'boom' } }), out(2, '/z', 'z')],
    disk: disk({}),
  });
  assert.is(groups[0].status, 'blocked');
  assert.match(groups[0].problems[0], /t1 -> \/k: boom/);
  assert.is(groups[1].status, 'changed');
});

test('change detection: create, update, mode, owner, none', () => {
  const same = Buffer.from('same');
  const groups = planGroups({
    outputs: [
      out(0, '/new', 'n'),
      out(1, '/upd', 'new bytes'),
      out(2, '/mode', 'same', [], { perms: 0o640 }),
      out(3, '/own', 'same', [], { uid: 1000 }),
      out(4, '/none', 'same'),
    ],
    disk: disk({
      '/upd': { exists: true, content: Buffer.from('old bytes'), mode: 0o644 },
      '/mode': { exists: true, content: same, mode: 0o644 },
      '/own': { exists: true, content: same, mode: 0o644, uid: 0 },
      '/none': { exists: true, content: same, mode: 0o600 },
    }),
  });
  assert.equal(groups.map((g) => g.outputs[0].change), ['create', 'update', 'mode', 'owner', 'none']);
  assert.is(groups[4].status, 'unchanged');
  assert.is(groups[4].outputs[0].mode, 0o600, 'an existing mode is kept');
});

test('modeFor: explicit perms, then private key 0600, then existing, then 0644', () => {
  const key = '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n';
  assert.is(modeFor({ perms: 0o644, content: key }), 0o644);
  assert.is(modeFor({ content: key, existingMode: 0o644 }), 0o600);
  assert.is(modeFor({ content: 'x', existingMode: 0o640 }), 0o640);
  assert.is(modeFor({ content: 'x' }), 0o644);
});

test.run();
