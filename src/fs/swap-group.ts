/**
 * Atomic swaps of file groups, with a journal so that a group (a cert, its key and its
 * chain) is on disk entirely old or entirely new, even across SIGKILL or power loss.
 * Full write-up: docs/atomic-writes.md.
 *
 * swapGroup protocol (one rename per file):
 *  0. Journal `<journalDir>/<groupId>.json` with state "staging" (written atomically:
 *     tmp file, fsync, rename, fsync dir), so a crash while staging leaves no litter.
 *  1. Per file: create missing parent dirs (0755) if createDirs, else CR_WRITE. Stage
 *     `<dir>/.<base>.certrender-<groupId>.tmp`: exclusive create at 0600, chown if asked,
 *     chmod to the final mode, then write the content and fsync.
 *  2. backup: hard-link the current target (copy if it is not a regular file) to
 *     `<path>.bak` through a temp name and a rename.
 *  3. Hard-link every existing target to `<dir>/.<base>.certrender-<groupId>.orig` (the
 *     old bytes, for a roll back), then journal state "prepared".
 *  4. Rename each staged file over its target (pause points `before_rename:<i>`,
 *     `after_rename:<i>`), then fsync every target directory (pause point `committed`).
 *  5. Remove the .orig links, delete the journal. (No "committed" journal is written:
 *     recovery rolls a "prepared" group whose files are all renamed forward to here.)
 * A failure in 0-3 removes everything staged (targets untouched). A failed rename in 4
 * marks the journal "rolling_back" and restores the .orig links.
 *
 * Recovery rule (recoverJournals, at start): "staging" and "rolling_back" roll back;
 * "committed" finishes; "prepared" rolls FORWARD when every file is either still staged
 * or already renamed (its target's sha256 is the journaled one): all new files were
 * complete and fsynced before "prepared" was written, so forward is always possible
 * and is what the cycle decided. Only if a staged file vanished without being renamed
 * (something outside certrender removed it) does it roll back from the .orig links.
 *
 * swapAtomicDir: Kubernetes AtomicWriter layout, see its own comment below.
 *
 * An exception thrown by `pause` is treated as a crash: the swap stops where it is and
 * leaves the disk and the journal for recoverJournals (that is how tests simulate one).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CertrenderError } from '../errors.js';
import { fsyncDir, writeDurable } from './durable.js';

export interface PlannedFile {
  /** Absolute path. */
  path: string;
  content: Buffer;
  mode: number;
  uid?: number;
  gid?: number;
  backup: boolean;
  createDirs: boolean;
}

export interface AtomicDirFile {
  /** A plain file name inside the directory (no `/`, not starting with `..`). */
  name: string;
  content: Buffer;
  mode: number;
  uid?: number;
  gid?: number;
}

type Pause = (point: string) => Promise<void>;
type GroupState = 'staging' | 'prepared' | 'rolling_back' | 'committed';

interface GroupEntry {
  target: string;
  staged: string;
  hadOriginal: boolean;
  backup: boolean;
  sha256: string;
}
interface GroupJournal {
  version: 1;
  kind: 'group';
  groupId: string;
  state: GroupState;
  files: GroupEntry[];
}
interface DirJournal {
  version: 1;
  kind: 'atomic-dir';
  dir: string;
  generation: string;
  names: string[];
  migrate: string[];
  keep: number;
}
type Journal = GroupJournal | DirJournal;

const GROUP_STATES: readonly string[] = ['staging', 'prepared', 'rolling_back', 'committed'];
const GROUP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const GENERATION = /^\.\.gen-(\d+)$/;
const DATA = '..data';
const DATA_TMP = '..data_tmp';

// ---------------------------------------------------------------- small helpers

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sibling = (target: string, groupId: string, suffix: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.certrender-${groupId}.${suffix}`);
const stagedPath = (target: string, groupId: string) => sibling(target, groupId, 'tmp');
const origPath = (target: string, groupId: string) => sibling(target, groupId, 'orig');
const backupTmpPath = (target: string, groupId: string) => sibling(target, groupId, 'bak.tmp');

function exists(p: string): boolean {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
  } catch (e) {
    if (errnoOf(e) === 'ENOTDIR') return false;
    throw e;
  }
}

/** rm -f that also accepts a parent that is not a directory (nothing can be there). */
function remove(p: string): void {
  try {
    fs.rmSync(p, { force: true });
  } catch (e) {
    if (errnoOf(e) !== 'ENOTDIR') throw e;
  }
}

function hashOf(p: string): string | undefined {
  try {
    return sha256(fs.readFileSync(p));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'EISDIR') return undefined;
    throw e;
  }
}

/** fsyncs the directories of `files` that exist (a roll back may meet one never created). */
const fsyncDirs = async (files: readonly string[]) => {
  for (const dir of new Set(files.map((f) => path.dirname(f)))) if (exists(dir)) await fsyncDir(dir);
};

/** Exclusive create at 0600, owner then mode set before any byte is written, fsync. */
async function writeNewFile(file: string, f: { content: Buffer; mode: number; uid?: number; gid?: number }) {
  await writeDurable(file, f.content, { flag: 'wx', mode: f.mode, uid: f.uid, gid: f.gid });
}

const HINTS: Record<string, string> = {
  EACCES: 'certrender may not write there: fix the owner/mode of the directory or run certrender as a user allowed to write it',
  EPERM: 'the operation is not permitted (changing the owner needs root or CAP_CHOWN; immutable files refuse writes)',
  ENOENT: 'the parent directory does not exist: create it, or set create_dest_dirs = true',
  ENOTDIR: 'a parent of this path is a file, not a directory: fix the destination path',
  EISDIR: 'a directory is in the way of this file: remove it or change the destination',
  ENOSPC: 'the file system is full: free space, then run certrender again',
  EDQUOT: 'the disk quota is exhausted: free space, then run certrender again',
  EROFS: 'the file system is read-only: write the file elsewhere or remount it read-write',
};

function writeError(file: string, cause: unknown): CertrenderError {
  if (cause instanceof CertrenderError) return cause;
  const code = errnoOf(cause);
  return new CertrenderError('CR_WRITE', `cannot write ${file}: ${code ?? String(cause)}`, {
    hint: (code && HINTS[code]) ?? 'check the destination path and its permissions, then run certrender again',
    cause,
    context: { path: file },
  });
}

/** Tracks whether an exception came from `pause` (a simulated crash: no cleanup). */
function crashPoints(pause: Pause | undefined) {
  const self = {
    crashed: false,
    async at(point: string) {
      try {
        await pause?.(point);
      } catch (e) {
        self.crashed = true;
        throw e;
      }
    },
  };
  return self;
}

// ---------------------------------------------------------------- journal files

const journalFile = (journalDir: string, id: string) => path.join(journalDir, `${id}.json`);

async function writeJournal(journalDir: string, id: string, journal: Journal): Promise<void> {
  const file = journalFile(journalDir, id);
  await writeDurable(`${file}.tmp`, JSON.stringify(journal, null, 2) + '\n', { flag: 'w', mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  await fsyncDir(journalDir);
}

async function openJournal(journalDir: string, id: string, journal: Journal): Promise<void> {
  const file = journalFile(journalDir, id);
  let pending: boolean;
  try {
    pending = exists(file);
  } catch {
    pending = false; // an unreadable journal dir fails below, where it is written
  }
  if (pending) {
    throw new CertrenderError('CR_JOURNAL', `a journal for ${id} is still pending: ${file}`, {
      hint: 'an earlier swap was interrupted: run recovery (certrender does it at start) before swapping again',
      context: { path: file },
    });
  }
  try {
    fs.mkdirSync(journalDir, { recursive: true, mode: 0o700 });
    await writeJournal(journalDir, id, journal);
  } catch (e) {
    throw new CertrenderError('CR_STATE', `cannot write the swap journal ${file}: ${errnoOf(e) ?? String(e)}`, {
      hint: 'the state directory must be writable by certrender: check its owner, mode and free space',
      cause: e,
      context: { path: file },
    });
  }
}

async function deleteJournal(journalDir: string, id: string): Promise<void> {
  fs.rmSync(journalFile(journalDir, id), { force: true });
  await fsyncDir(journalDir);
}

const isStr = (x: unknown): x is string => typeof x === 'string';
const isName = (x: unknown): x is string =>
  isStr(x) && x !== '' && x !== '.' && !x.includes('/') && !x.includes('\0') && !x.startsWith('..');

/** Staged paths are re-derived, never trusted: a damaged journal cannot aim rm elsewhere. */
function isGroupJournal(j: any): j is GroupJournal {
  return (
    j?.version === 1 &&
    j.kind === 'group' &&
    isStr(j.groupId) &&
    GROUP_ID.test(j.groupId) &&
    GROUP_STATES.includes(j.state) &&
    Array.isArray(j.files) &&
    j.files.every(
      (e: any) =>
        isStr(e?.target) &&
        path.isAbsolute(e.target) &&
        e.staged === stagedPath(e.target, j.groupId) &&
        typeof e.hadOriginal === 'boolean' &&
        typeof e.backup === 'boolean' &&
        isStr(e.sha256),
    )
  );
}

function isDirJournal(j: any): j is DirJournal {
  return (
    j?.version === 1 &&
    j.kind === 'atomic-dir' &&
    isStr(j.dir) &&
    path.isAbsolute(j.dir) &&
    isStr(j.generation) &&
    GENERATION.test(j.generation) &&
    Array.isArray(j.names) &&
    j.names.every(isName) &&
    Array.isArray(j.migrate) &&
    j.migrate.every(isName) &&
    Number.isInteger(j.keep) &&
    j.keep >= 0
  );
}

async function readJournal(file: string): Promise<Journal> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw journalError(file, 'cannot be read', e);
    throw journalError(file, 'is not valid JSON', e);
  }
  if (isGroupJournal(parsed) || isDirJournal(parsed)) return parsed;
  throw journalError(file, 'is not a certrender swap journal');
}

function journalError(file: string, what: string, cause?: unknown): CertrenderError {
  return new CertrenderError('CR_JOURNAL', `journal ${file} ${what}; nothing was recovered`, {
    hint: 'inspect the files it lists by hand, restore any .certrender-*.orig link over its target if needed, then move the journal away',
    cause,
    context: { path: file },
  });
}

// ---------------------------------------------------------------- swapGroup

export async function swapGroup(opts: {
  groupId: string;
  files: PlannedFile[];
  journalDir: string;
  pause?: Pause;
}): Promise<{ written: string[] }> {
  const { groupId, files, journalDir } = opts;
  if (!GROUP_ID.test(groupId)) {
    throw new CertrenderError('CR_INTERNAL', `invalid swap group id ${JSON.stringify(groupId)}`);
  }
  const targets = files.map((f) => f.path);
  if (targets.some((t) => !path.isAbsolute(t)) || new Set(targets).size !== targets.length) {
    throw new CertrenderError('CR_INTERNAL', `group ${groupId}: paths must be absolute and distinct`, {
      context: { paths: targets },
    });
  }
  const crash = crashPoints(opts.pause);
  const journal: GroupJournal = {
    version: 1,
    kind: 'group',
    groupId,
    state: 'staging',
    files: files.map((f) => ({
      target: f.path,
      staged: stagedPath(f.path, groupId),
      hadOriginal: exists(f.path),
      backup: f.backup,
      sha256: sha256(f.content),
    })),
  };
  await openJournal(journalDir, groupId, journal);

  let current = journalFile(journalDir, groupId);
  try {
    for (const [i, f] of files.entries()) {
      current = f.path;
      const dir = path.dirname(f.path);
      if (f.createDirs) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      else fs.statSync(dir);
      await writeNewFile(journal.files[i].staged, f);
    }
    for (const e of journal.files) {
      current = e.target;
      if (e.backup && e.hadOriginal) {
        const tmp = backupTmpPath(e.target, groupId);
        if (fs.lstatSync(e.target).isFile()) fs.linkSync(e.target, tmp);
        else fs.copyFileSync(e.target, tmp);
        fs.renameSync(tmp, `${e.target}.bak`);
      }
      if (e.hadOriginal) fs.linkSync(e.target, origPath(e.target, groupId));
    }
    await crash.at('staged');
    current = journalFile(journalDir, groupId);
    journal.state = 'prepared';
    await writeJournal(journalDir, groupId, journal);
  } catch (e) {
    if (crash.crashed) throw e;
    await rollBackGroup(journal);
    await deleteJournal(journalDir, groupId);
    throw writeError(current, e);
  }

  for (const [i, e] of journal.files.entries()) {
    await crash.at(`before_rename:${i}`);
    try {
      fs.renameSync(e.staged, e.target);
    } catch (err) {
      throw await abandonRenames(journalDir, journal, writeError(e.target, err));
    }
    await crash.at(`after_rename:${i}`);
  }
  await fsyncDirs(targets);
  // No "committed" journal write: a "prepared" journal whose targets all hold their new
  // bytes rolls forward to exactly this point, so that write would only cost two fsyncs.
  await crash.at('committed');
  await finishGroup(journalDir, journal);
  return { written: targets };
}

/** A rename failed (not a crash): put the old files back, then report the failure. */
async function abandonRenames(journalDir: string, journal: GroupJournal, failure: CertrenderError) {
  try {
    journal.state = 'rolling_back';
    await writeJournal(journalDir, journal.groupId, journal);
    await rollBackGroup(journal);
    await deleteJournal(journalDir, journal.groupId);
    return failure;
  } catch (e) {
    return new CertrenderError('CR_WRITE', `${failure.message}; restoring the old files failed too`, {
      hint: `run certrender again: recovery finishes the roll back from ${journalFile(journalDir, journal.groupId)}`,
      cause: e,
      context: failure.context,
    });
  }
}

/** Idempotent: every target back to its old bytes (or absent), no litter left. */
async function rollBackGroup(journal: GroupJournal): Promise<void> {
  const { groupId, state } = journal;
  for (const e of journal.files) {
    const orig = origPath(e.target, groupId);
    const staged = exists(e.staged);
    if (e.hadOriginal && exists(orig)) {
      fs.renameSync(orig, e.target);
      fs.rmSync(orig, { force: true }); // rename between two links of one inode is a no-op
    } else if (!e.hadOriginal && !staged && state !== 'staging' && hashOf(e.target) === e.sha256) {
      fs.rmSync(e.target, { force: true }); // it was renamed into place: take it away again
    }
    remove(e.staged);
    remove(backupTmpPath(e.target, groupId));
  }
  await fsyncDirs(journal.files.map((e) => e.target));
}

async function finishGroup(journalDir: string, journal: GroupJournal): Promise<void> {
  for (const e of journal.files) fs.rmSync(origPath(e.target, journal.groupId), { force: true });
  await fsyncDirs(journal.files.map((e) => e.target));
  await deleteJournal(journalDir, journal.groupId);
}

async function recoverGroup(journalDir: string, journal: GroupJournal): Promise<{ forward: boolean; reason: string }> {
  const reason = `interrupted_while_${journal.state}`;
  if (journal.state === 'staging' || journal.state === 'rolling_back') {
    await rollBackGroup(journal);
    await deleteJournal(journalDir, journal.groupId);
    return { forward: false, reason };
  }
  if (journal.state === 'prepared') {
    const where = journal.files.map((e) => (exists(e.staged) ? 'staged' : hashOf(e.target) === e.sha256 ? 'renamed' : 'lost'));
    if (where.includes('lost')) {
      await rollBackGroup(journal);
      await deleteJournal(journalDir, journal.groupId);
      return { forward: false, reason: 'staged_file_missing' };
    }
    for (const [i, e] of journal.files.entries()) if (where[i] === 'staged') fs.renameSync(e.staged, e.target);
    await fsyncDirs(journal.files.map((e) => e.target));
  }
  await finishGroup(journalDir, journal);
  return { forward: true, reason };
}

// ---------------------------------------------------------------- recovery

/**
 * Completes or undoes every interrupted swap recorded in `journalDir` (a directory that
 * holds swap journals only). All journals are parsed before anything is touched: one
 * that cannot be parsed is CR_JOURNAL and nothing changes. Returns group ids, and for
 * swapAtomicDir journals the directory.
 */
export async function recoverJournals(opts: {
  journalDir: string;
  log?: (event: string, fields: object) => void;
}): Promise<{ rolledForward: string[]; rolledBack: string[] }> {
  const result = { rolledForward: [] as string[], rolledBack: [] as string[] };
  let names: string[];
  try {
    names = fs.readdirSync(opts.journalDir).sort();
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return result;
    throw journalError(opts.journalDir, 'cannot be listed', e);
  }
  const journals: { id: string; journal: Journal }[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    journals.push({ id: name.slice(0, -'.json'.length), journal: await readJournal(path.join(opts.journalDir, name)) });
  }
  // A "<id>.json.tmp" is a journal update that never got renamed: the previous state stands.
  for (const name of names.filter((n) => n.endsWith('.json.tmp'))) {
    fs.rmSync(path.join(opts.journalDir, name), { force: true });
  }
  for (const { id, journal } of journals) {
    const { forward, reason, subject } =
      journal.kind === 'group'
        ? { ...(await recoverGroup(opts.journalDir, journal)), subject: journal.groupId }
        : { ...(await recoverAtomicDir(opts.journalDir, id, journal)), subject: journal.dir };
    (forward ? result.rolledForward : result.rolledBack).push(subject);
    opts.log?.(forward ? 'journal_rolled_forward' : 'journal_rolled_back', {
      journal: journalFile(opts.journalDir, id),
      kind: journal.kind,
      subject,
      reason,
    });
  }
  return result;
}

// ---------------------------------------------------------------- swapAtomicDir

/*
 * Kubernetes AtomicWriter layout, for groups that must switch in ONE rename:
 *   dir/..gen-<n>/            one generation: ALL files of the layout
 *   dir/..data -> ..gen-<n>   the live generation, switched by renaming ..data_tmp over it
 *   dir/<name> -> ..data/<name>
 * A swap journals its intent, builds ..gen-<max+1> (unchanged files copied from the live
 * generation, owner and mode kept) and fsyncs it, switches ..data in one rename, creates
 * the links of new names, then prunes generations older than the live one beyond `keep`.
 * Generation numbers come from the directory listing (deterministic, no clock).
 *
 * First migration of regular files: a regular `dir/<name>` cannot become a symlink in the
 * same rename as the others. So a migration generation holding the CURRENT bytes of those
 * files is made live first, each regular file is then replaced by its symlink (readers see
 * the same bytes throughout), and only then is the new generation switched in one rename.
 *
 * Recovery: whatever ..data points at is live. Generations that are not live and newer
 * (built but never switched to), ..data_tmp and link temps are removed; names present in
 * the live generation get their links; pruning finishes.
 */
export async function swapAtomicDir(opts: {
  dir: string;
  files: AtomicDirFile[];
  keep: number;
  journalDir: string;
  pause?: Pause;
}): Promise<{ generation: string; written: string[] }> {
  const { dir, files, journalDir, keep } = opts;
  const names = files.map((f) => f.name);
  if (!path.isAbsolute(dir) || !names.every(isName) || new Set(names).size !== names.length || !(Number.isInteger(keep) && keep >= 0)) {
    throw new CertrenderError('CR_INTERNAL', `swapAtomicDir ${dir}: needs an absolute dir, distinct plain file names and keep >= 0`, {
      context: { path: dir, names },
    });
  }
  const crash = crashPoints(opts.pause);
  const id = `atomic-dir-${sha256(Buffer.from(dir)).slice(0, 16)}`;
  let live: string | undefined;
  const migrate: string[] = [];
  let counter: number;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    live = liveGeneration(dir);
    if (live !== undefined && !GENERATION.test(live)) {
      throw new CertrenderError('CR_WRITE', `${path.join(dir, DATA)} points at ${live}, not at a certrender generation`, {
        hint: 'this directory is managed by another tool: write the files somewhere else',
        context: { path: dir },
      });
    }
    counter = Math.max(0, ...(generations(dir)).map(genNumber));
    for (const name of names) {
      const st = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isFile()) migrate.push(name);
      else if (!st.isSymbolicLink() || fs.readlinkSync(path.join(dir, name)) !== `${DATA}/${name}`) {
        throw new CertrenderError('CR_WRITE', `${path.join(dir, name)} is in the way of the ${DATA} layout`, {
          hint: 'remove it (it is neither a regular file nor a ..data symlink), then run certrender again',
          context: { path: path.join(dir, name) },
        });
      }
    }
  } catch (e) {
    throw writeError(dir, e);
  }
  const generation = genName(counter + (migrate.length > 0 ? 2 : 1));
  const journal: DirJournal = { version: 1, kind: 'atomic-dir', dir, generation, names, migrate, keep };
  await openJournal(journalDir, id, journal);

  try {
    if (migrate.length > 0) {
      const current = migrate.map((name) => readAsFile(path.join(dir, name), name));
      live = await buildGeneration({ dir, gen: genName(counter + 1), base: live, files: current });
      await crash.at('migrate_before_switch');
      await switchData(dir, live);
      await crash.at('migrate_after_switch');
      for (const name of migrate) await linkName(dir, name);
      await fsyncDir(dir);
    }
    await buildGeneration({ dir, gen: generation, base: live, files });
    await crash.at('before_switch');
    await switchData(dir, generation);
    await crash.at('after_switch');
    for (const name of names) if (!exists(path.join(dir, name))) await linkName(dir, name);
    await fsyncDir(dir);
    await prune(dir, generation, keep);
  } catch (e) {
    if (crash.crashed) throw e;
    await recoverAtomicDir(journalDir, id, journal);
    throw writeError(dir, e);
  }
  await deleteJournal(journalDir, id);
  return { generation, written: names.map((n) => path.join(dir, n)) };
}

const genName = (n: number) => `..gen-${n}`;
const genNumber = (gen: string) => Number(GENERATION.exec(gen)?.[1] ?? NaN);

function generations(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => GENERATION.test(n));
}

function liveGeneration(dir: string): string | undefined {
  try {
    return fs.readlinkSync(path.join(dir, DATA));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function readAsFile(file: string, name: string): AtomicDirFile {
  const st = fs.statSync(file);
  return { name, content: fs.readFileSync(file), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** Writes `dir/<gen>/` with `files` plus every other file of `base`; returns `gen`. */
async function buildGeneration(opts: { dir: string; gen: string; base?: string; files: AtomicDirFile[] }): Promise<string> {
  const target = path.join(opts.dir, opts.gen);
  fs.mkdirSync(target, { mode: 0o755 });
  const given = new Set(opts.files.map((f) => f.name));
  const kept = opts.base === undefined ? [] : fs.readdirSync(path.join(opts.dir, opts.base)).filter((n) => !given.has(n));
  const copies = kept.map((n) => readAsFile(path.join(opts.dir, opts.base!, n), n));
  for (const f of [...copies, ...opts.files]) await writeNewFile(path.join(target, f.name), f);
  await fsyncDir(target);
  await fsyncDir(opts.dir);
  return opts.gen;
}

async function switchData(dir: string, gen: string): Promise<void> {
  const tmp = path.join(dir, DATA_TMP);
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(gen, tmp);
  fs.renameSync(tmp, path.join(dir, DATA));
  await fsyncDir(dir);
}

const linkTmp = (dir: string, name: string) => path.join(dir, `.${name}.certrender-link.tmp`);

async function linkName(dir: string, name: string): Promise<void> {
  const tmp = linkTmp(dir, name);
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(`${DATA}/${name}`, tmp);
  fs.renameSync(tmp, path.join(dir, name));
}

/** Removes every generation but the live one and the `keep` newest older ones. */
async function prune(dir: string, live: string | undefined, keep: number): Promise<void> {
  const all = (generations(dir)).map(genNumber).sort((a, b) => b - a);
  const liveN = live === undefined ? undefined : genNumber(live);
  const kept = liveN === undefined ? [] : [liveN, ...all.filter((n) => n < liveN).slice(0, keep)];
  for (const n of all) if (!kept.includes(n)) fs.rmSync(path.join(dir, genName(n)), { recursive: true, force: true });
  await fsyncDir(dir);
}

async function recoverAtomicDir(journalDir: string, id: string, journal: DirJournal): Promise<{ forward: boolean; reason: string }> {
  const { dir } = journal;
  const live = liveGeneration(dir);
  fs.rmSync(path.join(dir, DATA_TMP), { force: true });
  for (const name of journal.names) fs.rmSync(linkTmp(dir, name), { force: true });
  if (live !== undefined) {
    const present = new Set(fs.readdirSync(path.join(dir, live)));
    for (const name of journal.names.filter((n) => present.has(n))) {
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st || (st.isFile() && journal.migrate.includes(name))) await linkName(dir, name);
    }
  }
  await prune(dir, live, journal.keep);
  await deleteJournal(journalDir, id);
  const forward = live === journal.generation;
  return { forward, reason: forward ? 'crashed_after_switch' : 'crashed_before_switch' };
}
