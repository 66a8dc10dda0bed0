import * as fs from 'node:fs';
import * as path from 'node:path';
import { CertrenderError } from '../errors.js';

/** What is on disk at an output path before a cycle touches it. */
export interface FileSnapshot {
  path: string;
  /** False when nothing is there (or only a dangling symlink). */
  exists: boolean;
  /** Bytes of the file, symlinks followed. */
  content?: Buffer;
  /** Permission bits only (`st_mode & 0o7777`), symlinks followed. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** True when `path` is a `..data/<name>` symlink of the swapAtomicDir (Kubernetes AtomicWriter) layout. */
  isSymlinkLayout?: boolean;
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export async function snapshotFile(file: string): Promise<FileSnapshot> {
  try {
    const link = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!link) return { path: file, exists: false };
    const isSymlinkLayout = link.isSymbolicLink()
      ? fs.readlinkSync(file) === `..data/${path.basename(file)}`
      : false;
    const st = fs.statSync(file, { throwIfNoEntry: false }); // undefined: a dangling symlink
    if (!st) return { path: file, exists: false, isSymlinkLayout };
    if (!st.isFile()) {
      throw new CertrenderError('CR_WRITE', `output path ${file} is not a regular file`, {
        hint: 'point the destination at a file path, or remove what is there',
        context: { path: file },
      });
    }
    return {
      path: file,
      exists: true,
      content: fs.readFileSync(file),
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      isSymlinkLayout,
    };
  } catch (e) {
    if (e instanceof CertrenderError) throw e;
    throw new CertrenderError('CR_WRITE', `cannot read the current output ${file}: ${errnoOf(e) ?? String(e)}`, {
      hint: 'certrender must be able to read its own outputs: check the permissions of the file and its directory',
      cause: e,
      context: { path: file },
    });
  }
}

export function snapshotFiles(files: readonly string[]): Promise<FileSnapshot[]> {
  return Promise.all(files.map(snapshotFile));
}
