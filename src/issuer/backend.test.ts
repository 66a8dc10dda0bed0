import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { limitRequests, type Backend } from './backend.js';

/** A backend whose requests stay open until the test answers them. */
function manual() {
  const open: { path: string; answer: () => void; fail: () => void }[] = [];
  const request = (path: string) =>
    new Promise<any>((resolve, reject) => open.push({ path, answer: () => resolve({ data: { path } }), fail: () => reject(new Error(`failed ${path}`)) }));
  const backend: Backend = { kind: 'vault', read: request, list: request, write: (p) => request(p), stats: () => ({ reads: 0, writes: 0, errors: 0, errorsByStatus: {} }) };
  return { backend, open };
}
const tick = () => new Promise((r) => setImmediate(r));

test('at most `limit` requests in flight; the queue starts in call order as slots free, a failure frees its slot too', async () => {
  const m = manual();
  const b = limitRequests(m.backend, 2);
  const results = ['a', 'b', 'c', 'd', 'e'].map((p, i) => (i % 2 ? b.write(p, {}) : b.read(p)).then((r) => r.data!.path, (e: Error) => e.message));
  await tick();
  assert.equal(m.open.map((o) => o.path), ['a', 'b']);
  m.open.shift()!.fail();
  await tick();
  assert.equal(m.open.map((o) => o.path), ['b', 'c']);
  m.open.shift()!.answer();
  m.open.shift()!.answer();
  await tick();
  assert.equal(m.open.map((o) => o.path), ['d', 'e']);
  for (const o of m.open.splice(0)) o.answer();
  assert.equal(await Promise.all(results), ['failed a', 'b', 'c', 'd', 'e']);
});

test('the limited backend keeps the rest of the backend: kind, stats, token upkeep', () => {
  const m = manual();
  const token = { nextAt: async () => undefined, renew: async () => undefined };
  const b = limitRequests({ ...m.backend, token }, 1);
  assert.is(b.kind, 'vault');
  assert.is(b.token, token);
  assert.equal(b.stats(), { reads: 0, writes: 0, errors: 0, errorsByStatus: {} });
});

test.run();
