/**
 * Loads the bundle's CommonJS files (dist/bundle/main.cjs, node-vault.cjs) as require()
 * would, but from V8's code cache when one was built for that exact file: compiling the
 * bundle is most of what node spends before certrender's first line runs (~20 ms for
 * main.cjs here), and every function the build's training run compiled (config loading,
 * template parsing, the cycle, the Vault client's request path) is then ready as bytecode
 * instead of being compiled on first call. Node 20 has no compile cache of its own
 * (`module.enableCompileCache` came in node 22). docs/decisions.md, "The bundle loads
 * from a code cache".
 *
 * `<file>.v8cache` holds the SHA-256 of the source it was built from, the SHA-256 of V8's
 * data, then that data. It is used only when both digests match: V8's own checks compare
 * the source's length, not its bytes, and a release build of V8 does not verify the data's
 * checksum (a damaged cache aborts the process). V8 then checks its version and flags and
 * may still reject it. Either way the file is compiled from source as before: a missing,
 * stale, damaged or rejected cache costs time, never correctness.
 *
 * CERTRENDER_CODE_CACHE=off ignores the caches (to rule them out, or to measure them).
 *
 * The cache is written only when CERTRENDER_CODE_CACHE_TRAIN=1 (scripts/train-code-cache.mjs,
 * run by `npm run build`): at the process's exit, with what that run compiled.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** What happened to each file's cache in this process (the tests read it). */
export type CacheState = 'used' | 'rejected' | 'stale' | 'damaged' | 'absent';
export const cacheStates = new Map<string, CacheState>();

const DIGEST_BYTES = 32;
const HEADER_BYTES = 2 * DIGEST_BYTES;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();
const training: { script: Script; cacheFile: string; digest: Buffer }[] = [];

interface InternalModule {
  _cache: Record<string, Module>;
  _nodeModulePaths(dir: string): string[];
  wrap(source: string): string;
}
const M = Module as unknown as InternalModule & (new (id: string) => Module);

export function requireCached(filename: string): unknown {
  const known = M._cache[filename];
  if (known) return known.exports;
  const source = readFileSync(filename, 'utf8');
  const digest = sha256(source);
  const cacheFile = `${filename}.v8cache`;
  let cachedData: Buffer | undefined;
  let state: CacheState = 'absent';
  let file: Buffer | undefined;
  if (process.env.CERTRENDER_CODE_CACHE !== 'off') {
    try {
      file = readFileSync(cacheFile);
    } catch {
      // no cache: compile from source
    }
  }
  if (file) {
    const data = file.subarray(HEADER_BYTES);
    if (file.length <= HEADER_BYTES || !file.subarray(0, DIGEST_BYTES).equals(digest)) state = 'stale';
    else if (!file.subarray(DIGEST_BYTES, HEADER_BYTES).equals(sha256(data))) state = 'damaged';
    else cachedData = data;
  }
  const script = new Script(M.wrap(source), { filename, cachedData });
  if (cachedData) state = script.cachedDataRejected ? 'rejected' : 'used';
  cacheStates.set(filename, state);

  const m = new M(filename);
  m.filename = filename;
  m.paths = M._nodeModulePaths(dirname(filename));
  M._cache[filename] = m;
  try {
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, __filename: string, __dirname: string) => void;
    wrapper.call(m.exports, m.exports, createRequire(filename), m, filename, dirname(filename));
  } catch (e) {
    delete M._cache[filename];
    throw e;
  }
  m.loaded = true;
  if (process.env.CERTRENDER_CODE_CACHE_TRAIN === '1') {
    if (training.length === 0) process.on('exit', writeTrainedCaches);
    training.push({ script, cacheFile, digest });
  }
  return m.exports;
}

/**
 * Writes each loaded file's cache with every function compiled so far (temp file, then
 * rename). Best effort: it runs at exit, where a throw would change the exit code, so a
 * failure is one line on stderr (the build's training script then finds a cache missing).
 */
function writeTrainedCaches(): void {
  for (const t of training) {
    const tmp = `${t.cacheFile}.${process.pid}.tmp`;
    try {
      const data = t.script.createCachedData();
      writeFileSync(tmp, Buffer.concat([t.digest, sha256(data), data]));
      renameSync(tmp, t.cacheFile);
    } catch (e) {
      rmSync(tmp, { force: true });
      process.stderr.write(`certrender: cannot write the code cache ${t.cacheFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
    }
  }
}
