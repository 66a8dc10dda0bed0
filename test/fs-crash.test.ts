/**
 * Real crashes: a child process is SIGKILLed in the middle of a swap, then recovery runs
 * in this process and the group must be consistent with no litter left.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recoverJournals, swapAtomicDir } from '../src/fs/swap-group.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const fixture = path.join(repo, 'test', 'fixtures', 'crash-swap.ts');

/** Starts the fixture, waits until it paused at `args.at`, SIGKILLs it. */
async function killMidSwap(args: Record<string, unknown>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(args)], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
      if (out.includes('paused\n')) resolve();
    });
    void exited.then(() => reject(new Error(`the child ended before pausing at ${args.at}: ${out}`)));
  });
  assert.is(await fsp.readFile(String(args.marker), 'utf8'), args.at);
  child.kill('SIGKILL');
  assert.is(await exited, 'SIGKILL');
}

async function litter(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => /\.certrender-|\.tmp$|^\.\.data_tmp$/.test(n));
}

test('SIGKILL between renames of a group: recovery completes it, all new, no litter', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'certrender-crash-'));
  const dir = path.join(root, 'pki');
  await fsp.mkdir(dir);
  const names = ['cert.pem', 'key.pem', 'chain.pem'];
  for (const n of names) await fsp.writeFile(path.join(dir, n), `old ${n}`);
  const journalDir = path.join(root, 'journal');
  await killMidSwap({
    kind: 'group',
    at: 'after_rename:1',
    marker: path.join(root, 'marker'),
    groupId: 'etcd-peer',
    journalDir,
    files: names.map((n) => ({ path: path.join(dir, n), content: `new ${n}`, mode: n === 'key.pem' ? 0o600 : 0o644 })),
  });
  const read = () => Promise.all(names.map((n) => fsp.readFile(path.join(dir, n), 'utf8')));
  assert.equal(await read(), ['new cert.pem', 'new key.pem', 'old chain.pem']); // the crash really was mid-group
  assert.ok((await litter(dir)).length > 0);

  assert.equal(await recoverJournals({ journalDir }), { rolledForward: ['etcd-peer'], rolledBack: [] });
  assert.equal(await read(), ['new cert.pem', 'new key.pem', 'new chain.pem']);
  assert.is((await fsp.stat(path.join(dir, 'key.pem'))).mode & 0o777, 0o600);
  assert.equal(await litter(dir), []);
  assert.equal(await fsp.readdir(journalDir), []);
});

for (const [at, live] of [['before_switch', 'v1'], ['after_switch', 'v2']] as const) {
  test(`SIGKILL of swapAtomicDir at ${at}: after recovery ${live} is live and complete, no tmp dirs`, async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'certrender-crash-'));
    const dir = path.join(root, 'tls');
    const journalDir = path.join(root, 'journal');
    const files = (tag: string) => [
      { name: 'tls.crt', content: `${tag} cert`, mode: 0o644 },
      { name: 'tls.key', content: `${tag} key`, mode: 0o600 },
      { name: 'ca.crt', content: `${tag} ca`, mode: 0o644 },
    ];
    await swapAtomicDir({
      dir,
      files: files('v1').map((f) => ({ ...f, content: Buffer.from(f.content) })),
      keep: 1,
      journalDir,
    });
    await killMidSwap({ kind: 'atomic-dir', at, marker: path.join(root, 'marker'), dir, journalDir, files: files('v2') });
    assert.ok(existsSync(path.join(dir, '..gen-2', 'tls.key'))); // the new generation was fully built

    const res = await recoverJournals({ journalDir });
    assert.equal(res, live === 'v2' ? { rolledForward: [dir], rolledBack: [] } : { rolledForward: [], rolledBack: [dir] });
    const gen = live === 'v2' ? '..gen-2' : '..gen-1';
    assert.is(await fsp.readlink(path.join(dir, '..data')), gen);
    assert.equal((await fsp.readdir(path.join(dir, gen))).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    for (const f of files(live)) assert.is(await fsp.readFile(path.join(dir, f.name), 'utf8'), f.content);
    const expected = live === 'v2' ? ['..data', '..gen-1', '..gen-2'] : ['..data', '..gen-1'];
    assert.equal((await fsp.readdir(dir)).sort(), [...expected, 'ca.crt', 'tls.crt', 'tls.key']);
    assert.equal(await fsp.readdir(journalDir), []);
  });
}

test.run();
