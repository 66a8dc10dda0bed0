import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import { snapshotFile, snapshotFiles } from './snapshot.js';

test('snapshotFile reads bytes, permission bits and owner, following symlinks', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'certrender-snap-'));
  const key = path.join(dir, 'key.pem');
  await fsp.writeFile(key, 'k');
  await fsp.chmod(key, 0o2640);
  await fsp.chown(key, 1234, 5678);
  await fsp.mkdir(path.join(dir, '..gen-1'));
  await fsp.writeFile(path.join(dir, '..gen-1', 'tls.crt'), 'c');
  await fsp.symlink('..gen-1', path.join(dir, '..data'));
  await fsp.symlink('..data/tls.crt', path.join(dir, 'tls.crt'));
  await fsp.symlink('key.pem', path.join(dir, 'alias.pem'));
  await fsp.symlink('..data/gone', path.join(dir, 'gone'));

  const [k, crt, alias, missing, dangling] = await snapshotFiles(
    ['key.pem', 'tls.crt', 'alias.pem', 'missing.pem', 'gone'].map((n) => path.join(dir, n)),
  );
  assert.equal(k, { path: key, exists: true, content: Buffer.from('k'), mode: 0o2640, uid: 1234, gid: 5678, isSymlinkLayout: false });
  assert.equal([crt.content?.toString(), crt.isSymlinkLayout], ['c', true]);
  assert.equal([alias.content?.toString(), alias.mode, alias.isSymlinkLayout], ['k', 0o2640, false]);
  assert.equal(missing, { path: path.join(dir, 'missing.pem'), exists: false });
  assert.equal(dangling, { path: path.join(dir, 'gone'), exists: false, isSymlinkLayout: true });
});

test('snapshotFile: a directory at the output path is CR_WRITE', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'certrender-snap-'));
  try {
    await snapshotFile(dir);
    assert.unreachable();
  } catch (e) {
    assert.equal([(e as CertrenderError).code, (e as CertrenderError).context?.path], ['CR_WRITE', dir]);
  }
});

test.run();
