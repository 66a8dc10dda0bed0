/** A fresh directory for each test of a suite, removed after it, and a way to write files into it. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Test } from 'uvu';

export function scratchDir(suite: Test, prefix: string) {
  let dir = '';
  suite.before.each(async () => {
    dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  });
  suite.after.each(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    /** The current test's directory. */
    path: () => dir,
    /** Write `text` at `name` (relative to the directory, parents created); returns the absolute path. */
    async write(name: string, text: string): Promise<string> {
      const file = join(dir, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
      return file;
    },
  };
}
