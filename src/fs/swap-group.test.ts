import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import { snapshotFile } from './snapshot.js';
import { recoverJournals, swapAtomicDir, swapGroup, type PlannedFile } from './swap-group.js';

const keyPem = () =>
  Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'certrender-fs-'));
}

const read = (p: string) => fsp.readFile(p, 'utf8');
const modeOf = async (p: string) => (await fsp.stat(p)).mode & 0o7777;

/** Every entry under `dir`, recursively, relative to it. */
async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory()) out.push(...(await listAll(path.join(dir, e.name))).map((n) => `${e.name}/${n}`));
  }
  return out.sort();
}

async function assertNoLitter(dir: string) {
  const litter = (await listAll(dir)).filter((n) => /\.certrender-|\.tmp$|\.\.data_tmp/.test(n));
  assert.equal(litter, [], `litter in ${dir}`);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CertrenderError) return e.code;
    throw e;
  }
  throw new Error('expected a CertrenderError');
}

async function crashes(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, /^simulated crash/);
    return;
  }
  assert.unreachable('expected the simulated crash');
}

const crashAt = (point: string) => async (p: string) => {
  if (p === point) throw new Error(`simulated crash at ${p}`);
};

/** cert and key exist with old bytes; the chain is new. */
async function groupFixture() {
  const root = await tempDir();
  const dir = path.join(root, 'pki');
  const journalDir = path.join(root, 'state', 'journal');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, 'cert.pem'), 'old cert\n', { mode: 0o644 });
  await fsp.writeFile(path.join(dir, 'key.pem'), 'old key\n', { mode: 0o600 });
  const key = keyPem();
  const files: PlannedFile[] = [
    { path: path.join(dir, 'cert.pem'), content: Buffer.from('new cert\n'), mode: 0o644, backup: true, createDirs: false },
    { path: path.join(dir, 'key.pem'), content: key, mode: 0o600, backup: true, createDirs: false },
    { path: path.join(dir, 'chain.pem'), content: Buffer.from('new chain\n'), mode: 0o644, backup: true, createDirs: false },
  ];
  const state = async () => ({
    cert: await read(files[0].path),
    key: await read(files[1].path),
    chain: await read(files[2].path).catch(() => undefined),
  });
  const OLD = { cert: 'old cert\n', key: 'old key\n', chain: undefined };
  const NEW = { cert: 'new cert\n', key: key.toString(), chain: 'new chain\n' };
  return { root, dir, journalDir, files, state, OLD, NEW };
}

test('swapGroup writes a group of three with modes, content and backups', async () => {
  const fx = await groupFixture();
  const { written } = await swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir });
  assert.equal(written, fx.files.map((f) => f.path));
  assert.equal(await fx.state(), fx.NEW);
  assert.is(await modeOf(fx.files[0].path), 0o644);
  assert.is(await modeOf(fx.files[1].path), 0o600);
  assert.is(await modeOf(fx.files[2].path), 0o644);
  assert.is(await read(`${fx.files[0].path}.bak`), 'old cert\n');
  assert.is(await read(`${fx.files[1].path}.bak`), 'old key\n');
  assert.equal(await listAll(fx.dir), ['cert.pem', 'cert.pem.bak', 'chain.pem', 'key.pem', 'key.pem.bak']);
  assert.equal(await fsp.readdir(fx.journalDir), []);
});

test('swapGroup: swapping identical bytes again still works (skipping unchanged files is the caller\'s job)', async () => {
  const fx = await groupFixture();
  await swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir });
  await swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir });
  assert.equal(await fx.state(), fx.NEW);
  assert.is(await read(`${fx.files[0].path}.bak`), 'new cert\n');
  await assertNoLitter(fx.dir);
});

test('swapGroup chowns only when asked, and creates missing parents (0755) when createDirs', async () => {
  const root = await tempDir();
  const file = path.join(root, 'a', 'b', 'cert.pem');
  await swapGroup({
    groupId: 'g1',
    files: [{ path: file, content: Buffer.from('x'), mode: 0o640, uid: 4321, gid: 8765, backup: true, createDirs: true }],
    journalDir: path.join(root, 'j'),
  });
  const st = await fsp.stat(file);
  assert.equal([st.uid, st.gid, st.mode & 0o7777], [4321, 8765, 0o640]);
  assert.is((await fsp.stat(path.join(root, 'a', 'b'))).mode & 0o777, 0o755 & ~process.umask());
  const other = path.join(root, 'plain.pem');
  await swapGroup({
    groupId: 'g2',
    files: [{ path: other, content: Buffer.from('y'), mode: 0o644, backup: false, createDirs: false }],
    journalDir: path.join(root, 'j'),
  });
  assert.is((await fsp.stat(other)).uid, process.getuid!());
});

test('swapGroup without createDirs: a missing parent is CR_WRITE naming the path, nothing written', async () => {
  const fx = await groupFixture();
  const missing = path.join(fx.root, 'nope', 'ca.pem');
  const files = [...fx.files, { ...fx.files[2], path: missing }];
  const before = await listAll(fx.dir);
  try {
    await swapGroup({ groupId: 'web', files, journalDir: fx.journalDir });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, CertrenderError);
    assert.is((e as CertrenderError).code, 'CR_WRITE');
    assert.is((e as CertrenderError).context?.path, missing);
    assert.ok((e as CertrenderError).hint?.includes('create_dest_dirs'));
  }
  assert.equal(await fx.state(), fx.OLD);
  assert.equal(await listAll(fx.dir), before);
  assert.equal(await fsp.readdir(fx.journalDir), []);
});

test('swapGroup: a staging failure (parent dir is a file) leaves every target untouched and no tmp files', async () => {
  const fx = await groupFixture();
  await fsp.writeFile(path.join(fx.root, 'blocker'), 'i am a file');
  const bad = path.join(fx.root, 'blocker', 'chain.pem');
  const files = [fx.files[0], fx.files[1], { ...fx.files[2], path: bad }];
  const inodes = await Promise.all(fx.files.slice(0, 2).map(async (f) => (await fsp.stat(f.path)).ino));
  for (const createDirs of [false, true]) {
    files[2].createDirs = createDirs;
    try {
      await swapGroup({ groupId: 'web', files, journalDir: fx.journalDir });
      assert.unreachable();
    } catch (e) {
      assert.is((e as CertrenderError).code, 'CR_WRITE');
      assert.is((e as CertrenderError).context?.path, bad);
    }
    assert.equal(await fx.state(), fx.OLD);
    assert.equal(await Promise.all(fx.files.slice(0, 2).map(async (f) => (await fsp.stat(f.path)).ino)), inodes);
    assert.equal(await listAll(fx.dir), ['cert.pem', 'key.pem']);
    assert.equal(await fsp.readdir(fx.journalDir), []);
  }
});

test('swapGroup: a failed rename rolls the group back in-process', async () => {
  const fx = await groupFixture();
  // Put a directory where the third (new) file goes, just before its rename.
  const pause = async (p: string) => {
    if (p === 'before_rename:2') await fsp.mkdir(fx.files[2].path);
  };
  assert.is(await codeOf(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause })), 'CR_WRITE');
  assert.is(await read(fx.files[0].path), 'old cert\n');
  assert.is(await read(fx.files[1].path), 'old key\n');
  assert.ok((await fsp.stat(fx.files[2].path)).isDirectory());
  await assertNoLitter(fx.dir);
  assert.equal(await fsp.readdir(fx.journalDir), []);
});

test('recoverJournals after a simulated crash after rename 1 of 3: all new, no litter', async () => {
  const fx = await groupFixture();
  const pause = crashAt('after_rename:0');
  await crashes(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause }));
  assert.equal(await fx.state(), { ...fx.NEW, key: 'old key\n', chain: undefined }); // the mixed state a crash leaves
  const logged: string[] = [];
  const res = await recoverJournals({ journalDir: fx.journalDir, log: (event) => logged.push(event) });
  assert.equal(res, { rolledForward: ['web'], rolledBack: [] });
  assert.equal(logged, ['journal_rolled_forward']);
  assert.equal(await fx.state(), fx.NEW);
  await assertNoLitter(fx.dir);
  assert.equal(await fsp.readdir(fx.journalDir), []);
});

test('recoverJournals: a crash at every point leaves the group entirely old or entirely new', async () => {
  const points = {
    staged: 'old',
    'before_rename:0': 'new',
    'after_rename:0': 'new',
    'before_rename:1': 'new',
    'after_rename:1': 'new',
    'before_rename:2': 'new',
    'after_rename:2': 'new',
    committed: 'new',
  } as const;
  for (const [point, expected] of Object.entries(points)) {
    const fx = await groupFixture();
    await crashes(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause: crashAt(point) }));
    const res = await recoverJournals({ journalDir: fx.journalDir });
    assert.equal(res, expected === 'new' ? { rolledForward: ['web'], rolledBack: [] } : { rolledForward: [], rolledBack: ['web'] }, point);
    assert.equal(await fx.state(), expected === 'new' ? fx.NEW : fx.OLD, point);
    await assertNoLitter(fx.dir);
    assert.equal(await fsp.readdir(fx.journalDir), [], point);
    assert.equal(await recoverJournals({ journalDir: fx.journalDir }), { rolledForward: [], rolledBack: [] });
    await swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir }); // usable again
  }
});

test('recoverJournals finishes a "committed" journal (as builds before the prepared-only swap wrote): new files kept, no litter', async () => {
  const fx = await groupFixture();
  await crashes(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause: crashAt('committed') }));
  const file = path.join(fx.journalDir, 'web.json');
  const journal = JSON.parse(await read(file));
  assert.is(journal.state, 'prepared', 'this build writes no "committed" state');
  await fsp.writeFile(file, JSON.stringify({ ...journal, state: 'committed' }));
  const logged: { event: string; reason: string }[] = [];
  const res = await recoverJournals({ journalDir: fx.journalDir, log: (event, fields) => logged.push({ event, reason: (fields as { reason: string }).reason }) });
  assert.equal(res, { rolledForward: ['web'], rolledBack: [] });
  assert.equal(logged, [{ event: 'journal_rolled_forward', reason: 'interrupted_while_committed' }]);
  assert.equal(await fx.state(), fx.NEW);
  await assertNoLitter(fx.dir);
  assert.equal(await fsp.readdir(fx.journalDir), []);
});

test('recoverJournals rolls back when a staged file vanished before its rename', async () => {
  const fx = await groupFixture();
  await crashes(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause: crashAt('after_rename:0') }));
  const staged = (await fsp.readdir(fx.dir)).filter((n) => n.startsWith('.key.pem.certrender-web.tmp'));
  assert.is(staged.length, 1);
  await fsp.rm(path.join(fx.dir, staged[0]));
  assert.equal(await recoverJournals({ journalDir: fx.journalDir }), { rolledForward: [], rolledBack: ['web'] });
  assert.equal(await fx.state(), fx.OLD);
  await assertNoLitter(fx.dir);
});

test('recoverJournals: a garbage journal is CR_JOURNAL naming it, and nothing is touched', async () => {
  const fx = await groupFixture();
  await crashes(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause: crashAt('after_rename:0') }));
  const snapshot = async () =>
    Promise.all([fx.dir, fx.journalDir].map(async (d) => Promise.all((await listAll(d)).map(async (n) => [n, await read(path.join(d, n))]))));
  for (const garbage of ['{"version": 1, "kind": "gro', JSON.stringify({ version: 1, kind: 'group', groupId: 'x', state: 'prepared', files: [{ target: '/etc/passwd', staged: '/etc/shadow', hadOriginal: true, backup: false, sha256: '' }] })]) {
    const bad = path.join(fx.journalDir, 'aaa.json');
    await fsp.writeFile(bad, garbage);
    const before = await snapshot();
    try {
      await recoverJournals({ journalDir: fx.journalDir });
      assert.unreachable();
    } catch (e) {
      assert.is((e as CertrenderError).code, 'CR_JOURNAL');
      assert.is((e as CertrenderError).context?.path, bad);
    }
    assert.equal(await snapshot(), before);
  }
});

test('swapGroup refuses to start while a journal for the group is pending; stale journal temps are removed', async () => {
  const fx = await groupFixture();
  await crashes(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir, pause: crashAt('before_rename:0') }));
  assert.is(await codeOf(swapGroup({ groupId: 'web', files: fx.files, journalDir: fx.journalDir })), 'CR_JOURNAL');
  await fsp.writeFile(path.join(fx.journalDir, 'other.json.tmp'), '{"half');
  await recoverJournals({ journalDir: fx.journalDir });
  assert.equal(await fsp.readdir(fx.journalDir), []);
  assert.equal(await recoverJournals({ journalDir: path.join(fx.root, 'absent') }), { rolledForward: [], rolledBack: [] });
});

// ---------------------------------------------------------------- swapAtomicDir

async function dirFixture() {
  const root = await tempDir();
  const dir = path.join(root, 'tls');
  const journalDir = path.join(root, 'journal');
  const files = (tag: string) => [
    { name: 'tls.crt', content: Buffer.from(`${tag} cert\n`), mode: 0o644 },
    { name: 'tls.key', content: Buffer.from(`${tag} key\n`), mode: 0o600 },
  ];
  const state = async () => ({ crt: await read(path.join(dir, 'tls.crt')), key: await read(path.join(dir, 'tls.key')) });
  const contents = (tag: string) => ({ crt: `${tag} cert\n`, key: `${tag} key\n` });
  return { root, dir, journalDir, files, state, contents };
}

test('swapAtomicDir builds the ..data layout and switches generations with one rename', async () => {
  const fx = await dirFixture();
  const first = await swapAtomicDir({ dir: fx.dir, files: fx.files('v1'), keep: 1, journalDir: fx.journalDir });
  assert.is(first.generation, '..gen-1');
  assert.is(await fsp.readlink(path.join(fx.dir, '..data')), '..gen-1');
  assert.is(await fsp.readlink(path.join(fx.dir, 'tls.key')), '..data/tls.key');
  assert.equal(await fx.state(), fx.contents('v1'));
  assert.is(await modeOf(path.join(fx.dir, 'tls.key')), 0o600);
  assert.is((await snapshotFile(path.join(fx.dir, 'tls.crt'))).isSymlinkLayout, true);

  // Only the cert changes, plus a new file: the key is carried over into the new generation.
  await swapAtomicDir({
    dir: fx.dir,
    files: [fx.files('v2')[0], { name: 'ca.crt', content: Buffer.from('ca\n'), mode: 0o644 }],
    keep: 1,
    journalDir: fx.journalDir,
  });
  assert.equal(await listAll(path.join(fx.dir, '..gen-2')), ['ca.crt', 'tls.crt', 'tls.key']);
  assert.equal(await fx.state(), { crt: 'v2 cert\n', key: 'v1 key\n' });
  assert.is(await modeOf(path.join(fx.dir, '..gen-2', 'tls.key')), 0o600);
  assert.is(await read(path.join(fx.dir, 'ca.crt')), 'ca\n');

  await swapAtomicDir({ dir: fx.dir, files: fx.files('v3'), keep: 1, journalDir: fx.journalDir });
  assert.equal(await listAll(fx.dir), [
    '..data', '..gen-2', '..gen-2/ca.crt', '..gen-2/tls.crt', '..gen-2/tls.key',
    '..gen-3', '..gen-3/ca.crt', '..gen-3/tls.crt', '..gen-3/tls.key', 'ca.crt', 'tls.crt', 'tls.key',
  ]);
  assert.equal(await fsp.readdir(fx.journalDir), []);
});

test('swapAtomicDir migrates regular files without ever showing a mixed pair', async () => {
  const fx = await dirFixture();
  await fsp.mkdir(fx.dir);
  await fsp.writeFile(path.join(fx.dir, 'tls.crt'), 'v1 cert\n', { mode: 0o644 });
  await fsp.writeFile(path.join(fx.dir, 'tls.key'), 'v1 key\n', { mode: 0o600 });
  const seen: unknown[] = [];
  const pause = async () => void seen.push(await fx.state());
  const res = await swapAtomicDir({ dir: fx.dir, files: fx.files('v2'), keep: 0, journalDir: fx.journalDir, pause });
  assert.is(res.generation, '..gen-2');
  assert.equal(seen, [fx.contents('v1'), fx.contents('v1'), fx.contents('v1'), fx.contents('v2')]);
  assert.equal(await fx.state(), fx.contents('v2'));
  assert.is(await fsp.readlink(path.join(fx.dir, 'tls.crt')), '..data/tls.crt');
  assert.equal((await fsp.readdir(fx.dir)).sort(), ['..data', '..gen-2', 'tls.crt', 'tls.key']);
});

test('swapAtomicDir: something else in the way is CR_WRITE naming it', async () => {
  const fx = await dirFixture();
  await fsp.mkdir(path.join(fx.dir, 'tls.key'), { recursive: true });
  try {
    await swapAtomicDir({ dir: fx.dir, files: fx.files('v1'), keep: 0, journalDir: fx.journalDir });
    assert.unreachable();
  } catch (e) {
    assert.is((e as CertrenderError).code, 'CR_WRITE');
    assert.is((e as CertrenderError).context?.path, path.join(fx.dir, 'tls.key'));
  }
  assert.equal(await fsp.readdir(fx.dir), ['tls.key']);
});

test('recoverJournals: swapAtomicDir crashed at every point is entirely old or entirely new', async () => {
  const points = {
    migrate_before_switch: 'v1',
    migrate_after_switch: 'v1',
    before_switch: 'v1',
    after_switch: 'v2',
  } as const;
  for (const [point, expected] of Object.entries(points)) {
    const fx = await dirFixture();
    await fsp.mkdir(fx.dir);
    await fsp.writeFile(path.join(fx.dir, 'tls.crt'), 'v1 cert\n', { mode: 0o644 });
    await fsp.writeFile(path.join(fx.dir, 'tls.key'), 'v1 key\n', { mode: 0o600 });
    const files = [...fx.files('v2'), { name: 'ca.crt', content: Buffer.from('ca\n'), mode: 0o644 }];
    await crashes(swapAtomicDir({ dir: fx.dir, files, keep: 0, journalDir: fx.journalDir, pause: crashAt(point) }));
    const res = await recoverJournals({ journalDir: fx.journalDir });
    assert.equal(res, expected === 'v2' ? { rolledForward: [fx.dir], rolledBack: [] } : { rolledForward: [], rolledBack: [fx.dir] }, point);
    assert.equal(await fx.state(), fx.contents(expected), point);
    const entries = await listAll(fx.dir);
    assert.ok(!entries.includes('..data_tmp') && entries.filter((n) => /^\.\.gen-\d+$/.test(n)).length <= 1, point);
    assert.is(entries.includes('ca.crt'), expected === 'v2', point);
    await assertNoLitter(fx.dir);
    assert.equal(await fsp.readdir(fx.journalDir), []);
    await swapAtomicDir({ dir: fx.dir, files, keep: 0, journalDir: fx.journalDir });
    assert.equal(await fx.state(), fx.contents('v2'), point);
  }
});

test.run();
