/**
 * Durable small writes for the swap and the state directory. Only fsync waits on the
 * device, so only fsync leaves the event loop (libuv's pool); open, write, chmod, rename,
 * link and lstat are direct syscalls against the page cache. An async fs call costs ~110 µs
 * of CPU in the pool's hand-off against ~3 µs for the syscall itself, and a first run
 * makes ~50 per group: on two cores that CPU was taken from the Vault issuing the next
 * certificates (docs/decisions.md, "Swap: sync syscalls, async fsync").
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';

const fsyncFd = promisify(fs.fsync);

/** Opens `file` with `flag` at 0600, sets owner then mode before any byte is written, writes, fsyncs. */
export async function writeDurable(file: string, content: string | Buffer, opts: { flag: 'w' | 'wx'; mode: number; uid?: number; gid?: number }): Promise<void> {
  const fd = fs.openSync(file, opts.flag, 0o600);
  try {
    if (opts.uid !== undefined || opts.gid !== undefined) fs.fchownSync(fd, opts.uid ?? -1, opts.gid ?? -1);
    fs.fchmodSync(fd, opts.mode);
    fs.writeFileSync(fd, content);
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync of a directory: makes the renames and creations inside it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = fs.openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
  }
}
