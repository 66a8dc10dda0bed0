/**
 * One certrender at a time per state directory: `<state>/certrender.lock` holds the
 * owner's pid, created exclusively. A lock whose pid is gone is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CertrenderError } from '../errors.js';

export interface Lock {
  path: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockPath(stateDir: string): string {
  return join(stateDir, 'certrender.lock');
}

/** The pid holding the lock, if a live process does. */
export function lockHolder(stateDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath(stateDir), 'utf8').trim());
    return pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function acquireLock(stateDir: string): Lock {
  const path = lockPath(stateDir);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        path,
        release() {
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CertrenderError('CR_STATE', `cannot create ${path}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
      }
      const holder = lockHolder(stateDir);
      if (holder !== undefined && holder !== process.pid) {
        throw new CertrenderError('CR_STATE_LOCKED', `another certrender (pid ${holder}) is running on the state directory ${stateDir}`, {
          hint: `stop it first, or give this one its own --state-dir; the lock is ${path}`,
          context: { pid: holder, path },
        });
      }
      try {
        unlinkSync(path); // stale: its process is gone
      } catch {
        /* raced with another taker */
      }
    }
  }
  throw new CertrenderError('CR_STATE_LOCKED', `could not take the lock ${path}`, { hint: 'another certrender is starting on the same state directory' });
}
