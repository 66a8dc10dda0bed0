/**
 * The files a list of `-config` paths names: a file as given, a directory walked in
 * lexical order (subdirectories too), as consul-template walks them.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CertrenderError } from '../errors.js';

export async function configFiles(paths: string[], cwd: string): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) files.push(...(await expandPath(resolve(cwd, p))));
  return files;
}

async function expandPath(path: string): Promise<string[]> {
  const st = await stat(path).catch((e: unknown) => readError(path, e));
  if (!st.isDirectory()) return [path];
  const names = (await readdir(path).catch((e: unknown) => readError(path, e))).sort();
  const out: string[] = [];
  for (const name of names) {
    const child = join(path, name);
    const cst = await stat(child).catch((e: unknown) => readError(child, e));
    if (cst.isDirectory()) out.push(...(await expandPath(child)));
    else if (cst.isFile()) out.push(child);
  }
  return out;
}

export function readError(path: string, cause: unknown): never {
  const code = (cause as NodeJS.ErrnoException).code;
  throw new CertrenderError('CR_CONFIG_READ', `cannot read config ${path}: ${code ?? String(cause)}`, {
    hint: 'check the config path and its permissions',
    cause,
    context: { file: path },
  });
}
