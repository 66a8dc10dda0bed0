/**
 * The state directory (DESIGN.md "State directory"): `--state-dir`, else the config's
 * `state_dir`, else $CERTRENDER_STATE_DIR, else /var/lib/certrender/<id> as root or
 * $XDG_STATE_HOME/certrender/<id> (~/.local/state when unset), where <id> is the first
 * 12 hex digits of sha256 over the sorted absolute config paths. Mode 0700, files 0600.
 * `plan` never creates it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CertrenderError } from '../errors.js';
import { fsyncDir, writeDurable } from '../fs/durable.js';

export function resolveStateDir(opts: {
  flag?: string;
  configured?: string;
  configFiles: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  isRoot: boolean;
}): string {
  if (opts.flag) return resolve(opts.cwd, opts.flag);
  if (opts.configured) return resolve(opts.cwd, opts.configured);
  if (opts.env.CERTRENDER_STATE_DIR) return resolve(opts.cwd, opts.env.CERTRENDER_STATE_DIR);
  const id = createHash('sha256')
    .update([...opts.configFiles].map((f) => resolve(opts.cwd, f)).sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
  if (opts.isRoot) return join('/var/lib/certrender', id);
  const base = opts.env.XDG_STATE_HOME || join(opts.env.HOME || homedir(), '.local', 'state');
  return join(base, 'certrender', id);
}

export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CertrenderError('CR_STATE', `cannot create the state directory ${dir}: ${(e as NodeJS.ErrnoException).code}`, {
      hint: 'set state_dir in the config or --state-dir to a writable directory',
      cause: e,
    });
  }
}

/** Write a small file atomically (temp, fsync, rename, fsync dir), mode 0600 by default. */
export function writeFileAtomicSync(path: string, data: string | Buffer, mode = 0o600): void {
  const dir = dirname(path);
  ensureDir(dir);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw writeError(path, e);
  }
}

/** writeFileAtomicSync with its fsyncs off the event loop (src/fs/durable.ts): they wait in libuv's pool. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  ensureDir(dir);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeDurable(tmp, data, { flag: 'wx', mode });
    renameSync(tmp, path);
    await fsyncDir(dir);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* the write's own error is the one to report */
    }
    throw writeError(path, e);
  }
}

function writeError(path: string, e: unknown): CertrenderError {
  return new CertrenderError('CR_STATE', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
    hint: 'check that the state directory is writable and the disk is not full',
    cause: e,
  });
}

export function readJsonIfExists<T>(path: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CertrenderError('CR_STATE', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CertrenderError('CR_STATE', `${path} is not valid JSON`, {
      hint: 'the state file is damaged; move it away and run again (certificates will be re-issued)',
      cause: e,
    });
  }
}
