/**
 * The config front door: reads files and directories, detects HCL1 or JSON by content,
 * normalises HCL1's block arrays to the schema's shape, merges several files and
 * validates the result with the one schema.
 *
 * Problems are reported as `FILE:LINE: KEY.PATH: message`, all of them at once. Key paths
 * use 0-based indices into the merged `template` and `atomic_dir` lists
 * (`template.0.destination` is the first template of all files, in load order); the
 * line is the one in the file that supplied the value: HCL positions come from the
 * parser, JSON ones from a small scanner run only when there is a problem to report.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { CertrenderError } from '../errors.js';
import { type CompatFinding, finishCompat, mapConsulTemplate } from './consul-template-compat.js';
import { type HclPosition, parseHcl1, pathKey } from './hcl1-parser.js';
import { atomicDirSchema, configSchema, type LoadedConfig } from './schema.js';

type Obj = Record<string, unknown>;
type PathSeg = string | number;

export interface ConfigProblem {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path, 0-based list indices (`template.2.perms`); '' for syntax errors. */
  path: string;
  message: string;
}

export interface ParsedConfigText {
  /** The file's content in the schema's natural shape (blocks normalised), not yet validated. */
  raw: Obj;
  format: 'hcl' | 'json';
  /** Where a key path of `raw` is in the file; the deepest part of the path that is there. */
  positionOf(path: PathSeg[]): HclPosition | undefined;
}

const LIST_BLOCKS = new Set(['template', 'atomic_dir']);
const SINGLETONS = ['vault', 'local_ca', 'renew'];
const VAULT_SINGLETONS = ['ssl', 'retry'];
const IGNORED_WITH_LOCAL_CA = ['VAULT_ADDR', 'VAULT_TOKEN', 'BAO_ADDR', 'BAO_TOKEN'];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Shown as the file of problems and warnings about command-line flags. */
export const COMMAND_LINE = '(command line)';

export async function loadConfig(opts: {
  paths: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Keys from command-line flags (consul-template's shape), merged after every file: flags win. */
  overlay?: Record<string, unknown>;
  /** The command line was consul-template's: inline `contents` default to Go templates in every file. */
  consulTemplate?: boolean;
}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const files: string[] = [];
  for (const p of opts.paths) files.push(...(await expandPath(resolve(opts.cwd, p))));

  const sources: { file: string; parsed: ParsedConfigText }[] = [];
  const syntax: ConfigProblem[] = [];
  const warnings: string[] = [];
  const addCompat = (file: string, parsed: ParsedConfigText) => {
    const compat = mapConsulTemplate(parsed.raw, { consulTemplate: opts.consulTemplate });
    const place = (f: CompatFinding) => ({ file, line: parsed.positionOf(f.at)?.line, path: f.path, message: f.message });
    syntax.push(...compat.problems.map(place));
    for (const w of compat.warnings.map(place)) warnings.push(`${[w.file, w.line].filter((x) => x !== undefined).join(':')}: ${w.path}: ${w.message}`);
    sources.push({ file, parsed: { ...parsed, raw: compat.raw, positionOf: (path) => parsed.positionOf(compat.origin(path)) } });
  };
  for (const file of files) {
    const text = await readText(file);
    try {
      addCompat(file, parseConfigText({ text, file }));
    } catch (e) {
      if (!(e instanceof CertrenderError) || e.code !== 'CR_CONFIG_INVALID') throw e;
      syntax.push(...(e.context?.problems as ConfigProblem[]));
    }
  }
  if (opts.overlay) addCompat(COMMAND_LINE, { raw: opts.overlay, format: 'json', positionOf: () => undefined });
  if (syntax.length > 0) throw invalid(syntax);

  const merged = mergeRaw(sources.map((s) => s.parsed.raw));
  const result = configSchema.safeParse(finishCompat(merged.raw), {
    // A config is parsed once (per load or reload): zod's JIT (it generates and compiles a
    // parser for each object schema) costs more here than it saves (~10 ms of a `once`).
    jitless: true,
    error: (iss) => (iss.code === 'invalid_type' && iss.input === undefined ? 'required key is missing' : undefined),
  });
  if (!result.success) {
    const problems = result.error.issues.flatMap(issueProblems).map(({ path, message }): ConfigProblem => {
      const at = merged.locate(path);
      const src = sources[at.file];
      return { file: src.file, line: src.parsed.positionOf(at.path)?.line, path: path.join('.'), message };
    });
    const order = (p: ConfigProblem) => files.indexOf(p.file) * 1e9 + (p.line ?? 0);
    throw invalid(problems.sort((a, b) => order(a) - order(b)));
  }

  const config = result.data;
  if (config.local_ca) {
    for (const name of IGNORED_WITH_LOCAL_CA) if (env[name]) warnings.push(`local_ca is set: ${name} is ignored`);
    if (config.vault) warnings.push('local_ca is set: the vault block is ignored');
  }
  return { config, files, baseDir: resolve(opts.cwd), warnings };
}

/** Parses one file's text: JSON when it starts with `{` (as HCL1 decides), HCL1 otherwise. */
export function parseConfigText(opts: { text: string; file: string }): ParsedConfigText {
  const text = opts.text.replace(/^\uFEFF/, '');
  if (firstSignificantChar(text) === '{') {
    let parsed: Obj;
    try {
      parsed = JSON.parse(text) as Obj;
    } catch (e) {
      throw jsonSyntaxError(text, opts.file, e as SyntaxError);
    }
    let positions: Map<string, HclPosition> | undefined;
    const positionOf = (path: PathSeg[]) => deepest((positions ??= jsonPositions(text)), rawPath(parsed, path));
    return { raw: normalize(parsed), format: 'json', positionOf };
  }
  const { value, positions } = parseHcl1(text, opts.file);
  return { raw: normalize(value), format: 'hcl', positionOf: (path) => deepest(positions, rawPath(value, path)) };
}

// ---------------------------------------------------------------------------- reading

/** A `-config` path: a file as given, a directory walked in lexical order (subdirectories too), as consul-template walks them. */
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

async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((e: unknown) => readError(file, e));
}

function readError(path: string, cause: unknown): never {
  const code = (cause as NodeJS.ErrnoException).code;
  throw new CertrenderError('CR_CONFIG_READ', `cannot read config ${path}: ${code ?? String(cause)}`, {
    hint: 'check the config path and its permissions',
    cause,
    context: { file: path },
  });
}

function invalid(problems: ConfigProblem[]): CertrenderError {
  const lines = problems.map((p) => {
    const at = [p.file, p.line, p.column].filter((x) => x !== undefined).join(':');
    return p.path ? `${at}: ${p.path}: ${p.message}` : `${at}: ${p.message}`;
  });
  return new CertrenderError('CR_CONFIG_INVALID', lines.join('\n'), {
    hint: 'fix the keys named above (schema: schema/certrender.schema.json)',
    context: { problems },
  });
}

// ---------------------------------------------------------------------------- parsing

function firstSignificantChar(text: string): string | undefined {
  const m = /^(?:\s+|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*(.)/.exec(text);
  return m?.[1];
}

/** V8's "... in JSON at position N"; the excerpt of the text some messages carry is left out. */
function jsonSyntaxError(text: string, file: string, e: SyntaxError): CertrenderError {
  const offset = /at position (\d+)/.exec(e.message)?.[1] ?? (/end of JSON input/.test(e.message) ? String(text.length) : undefined);
  const before = offset === undefined ? undefined : text.slice(0, Number(offset)).split('\n');
  const reason = e.message.replace(/ in JSON at position[\s\S]*$|, "[\s\S]*$/, '');
  return invalid([{ file, line: before?.length, column: before && before[before.length - 1].length + 1, path: '', message: `syntax error: invalid JSON: ${reason}` }]);
}

/** HCL1 gives every block as a list; the schema wants singletons as objects and `{ path, keep }` dirs. */
function normalize(raw: Obj): Obj {
  const out = { ...raw };
  for (const k of SINGLETONS) if (k in out) out[k] = singleton(out[k]);
  if (isObj(out.vault)) {
    const vault = { ...out.vault };
    for (const k of VAULT_SINGLETONS) if (k in vault) vault[k] = singleton(vault[k]);
    out.vault = vault;
  }
  for (const k of LIST_BLOCKS) if (isObj(out[k])) out[k] = [out[k]];
  if (Array.isArray(out.atomic_dir)) out.atomic_dir = out.atomic_dir.map(unlabel);
  for (const k of Object.keys(NAMED_BLOCKS)) if (Array.isArray(out[k])) out[k] = byName(out[k] as unknown[], NAMED_BLOCKS[k]);
  return out;
}

/** Labelled blocks that become records by name, with their singleton sub-blocks. */
const NAMED_BLOCKS: Record<string, string[]> = { hook: ['gate'], shared_key: [] };

/**
 * `hook "etcd" { ... gate { ... } }` arrives as `[{ etcd: [{ ..., gate: [{...}] }] }]`:
 * a record by name, with its sub-blocks singletons. A name repeated in one file: the last wins.
 */
function byName(items: unknown[], subBlocks: string[]): unknown {
  const out: Obj = {};
  for (const item of items) {
    const label = isObj(item) ? Object.keys(item)[0] : undefined;
    if (label === undefined || Object.keys(item as Obj).length !== 1) return items; // let the schema report it
    const body = singleton((item as Obj)[label]);
    if (!isObj(body)) {
      out[label] = body;
      continue;
    }
    const copy = { ...body };
    for (const sub of subBlocks) if (sub in copy) copy[sub] = singleton(copy[sub]);
    out[label] = copy;
  }
  return out;
}

/** The path in the parsed file of a path in its normalised shape: `normalize` undone. */
function rawPath(raw: Obj, path: PathSeg[]): PathSeg[] {
  const [head, ...rest] = path;
  if (typeof head !== 'string') return path;
  const out: PathSeg[] = [head];
  const collapsed = (v: unknown): unknown => {
    if (singleton(v) === v) return v;
    out.push((v as unknown[]).length - 1);
    return singleton(v);
  };
  if (SINGLETONS.includes(head)) {
    const v = collapsed(raw[head]);
    if (head === 'vault' && isObj(v) && typeof rest[0] === 'string' && VAULT_SINGLETONS.includes(rest[0])) {
      const key = rest.shift() as string;
      out.push(key);
      collapsed(v[key]);
    }
    return [...out, ...rest];
  }
  if (LIST_BLOCKS.has(head) && isObj(raw[head])) return [head, ...rest.slice(1)];
  if (head in NAMED_BLOCKS && Array.isArray(raw[head]) && typeof rest[0] === 'string') {
    const [name, key, ...tail] = rest;
    const list = raw[head] as Obj[];
    const index = list.map((item, i) => (isObj(item) && name in item ? i : -1)).filter((i) => i >= 0).pop();
    if (index === undefined) return path;
    const blocks = list[index][name as string];
    const blockPath: PathSeg[] = [head, index, name, Array.isArray(blocks) ? blocks.length - 1 : 0];
    if (key === undefined) return blockPath;
    if (!NAMED_BLOCKS[head].includes(key as string)) return [...blockPath, key, ...tail];
    const sub = (singleton(blocks) as Obj)?.[key as string];
    return [...blockPath, key, ...(Array.isArray(sub) ? [sub.length - 1] : []), ...tail];
  }
  const [index, key, ...tail] = rest;
  const label = head === 'atomic_dir' && typeof index === 'number' ? labelOf((raw[head] as unknown[] | undefined)?.[index]) : undefined;
  if (label === undefined || key === undefined) return path;
  out.push(index, label);
  if (key === 'path') return out;
  collapsed((raw[head] as Obj[])[index as number][label]);
  return [...out, key, ...tail];
}

/** A block repeated in one file: the last wins. */
function singleton(v: unknown): unknown {
  return Array.isArray(v) && v.length > 0 && v.every(isObj) ? v[v.length - 1] : v;
}

/** `atomic_dir "/x" { keep = 2 }` arrives as `{ "/x": [{ keep: 2 }] }`. */
function unlabel(item: unknown): unknown {
  const label = labelOf(item);
  return label === undefined ? item : { ...(singleton((item as Obj)[label]) as Obj), path: label };
}

function labelOf(item: unknown): string | undefined {
  if (!isObj(item)) return undefined;
  const keys = Object.keys(item);
  if (keys.length !== 1 || keys[0] in atomicDirSchema.shape) return undefined;
  return isObj(singleton(item[keys[0]])) ? keys[0] : undefined;
}

// ---------------------------------------------------------------------------- merging

interface Located {
  file: number;
  /** The path inside that file (list indices local to it). */
  path: PathSeg[];
}

/** Right-most wins for scalars, singleton blocks merge key by key, lists append. */
function mergeRaw(raws: Obj[]): { raw: Obj; locate(path: PathSeg[]): Located } {
  const raw: Obj = {};
  const listOrigin = new Map<string, { file: number; index: number }[]>();
  const keyOrigin = new Map<string, number>();
  const mergeValue = (prev: unknown, next: unknown, path: string[], file: number): unknown => {
    keyOrigin.set(JSON.stringify(path), file);
    if (!isObj(prev) || !isObj(next)) return next;
    const out = { ...prev };
    for (const [k, v] of Object.entries(next)) out[k] = mergeValue(prev[k], v, [...path, k], file);
    return out;
  };
  raws.forEach((src, file) => {
    for (const [k, v] of Object.entries(src)) {
      const prev = raw[k];
      if (LIST_BLOCKS.has(k) && Array.isArray(v) && (prev === undefined || Array.isArray(prev))) {
        raw[k] = [...((prev as unknown[] | undefined) ?? []), ...v];
        listOrigin.set(k, [...(listOrigin.get(k) ?? []), ...v.map((_, index) => ({ file, index }))]);
      } else {
        raw[k] = mergeValue(prev, v, [k], file);
      }
    }
  });
  const locate = (path: PathSeg[]): Located => {
    const [head, index, ...rest] = path;
    const item = typeof head === 'string' && typeof index === 'number' ? listOrigin.get(head)?.[index] : undefined;
    if (item) return { file: item.file, path: [head, item.index, ...rest] };
    for (let n = path.length; n > 0; n--) {
      const file = keyOrigin.get(JSON.stringify(path.slice(0, n)));
      if (file !== undefined) return { file, path };
    }
    return { file: raws.length - 1, path };
  };
  return { raw, locate };
}

// ---------------------------------------------------------------------------- problems

function issueProblems(iss: z.core.$ZodIssue): { path: PathSeg[]; message: string }[] {
  const path = iss.path.filter((s): s is PathSeg => typeof s !== 'symbol');
  if (iss.code === 'unrecognized_keys') {
    const known = knownKeys(path);
    return iss.keys.map((key) => {
      const near = suggest(key, known);
      return { path: [...path, key], message: `unknown key${near ? ` (did you mean "${near}"?)` : ''}` };
    });
  }
  if (iss.code === 'invalid_union' && iss.errors.every((alt) => alt[0]?.code === 'invalid_type')) {
    const expected = iss.errors.map((alt) => (alt[0] as z.core.$ZodIssueInvalidType).expected);
    return [{ path, message: `expected ${expected.join(' or ')}` }];
  }
  return [{ path, message: iss.message }];
}

interface SchemaNode {
  def: { type: string; shape?: Record<string, SchemaNode>; element?: SchemaNode; innerType?: SchemaNode; in?: SchemaNode; valueType?: SchemaNode };
}

/** Keys the schema allows in the object at `path`. */
function knownKeys(path: PathSeg[]): string[] {
  const unwrap = (s: SchemaNode | undefined): SchemaNode | undefined => {
    while (s && (s.def.innerType || s.def.type === 'pipe')) s = s.def.innerType ?? s.def.in;
    return s;
  };
  let node = unwrap(configSchema as unknown as SchemaNode);
  for (const seg of path) {
    node = unwrap(typeof seg === 'number' ? node?.def.element : node?.def.type === 'record' ? node.def.valueType : node?.def.shape?.[seg]);
  }
  return Object.keys(node?.def.shape ?? {});
}

function suggest(key: string, known: string[]): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d <= Math.min(3, Math.ceil(key.length / 3)) && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

// ---------------------------------------------------------------------------- positions

/** The position of the longest prefix of `path` that has one. */
function deepest(positions: ReadonlyMap<string, HclPosition>, path: PathSeg[]): HclPosition | undefined {
  for (let n = path.length; n > 0; n--) {
    const at = positions.get(pathKey(path.slice(0, n)));
    if (at) return at;
  }
  return undefined;
}

/** Positions of the keys and items of a text JSON.parse accepted, keyed like parseHcl1's. */
function jsonPositions(text: string): Map<string, HclPosition> {
  const positions = new Map<string, HclPosition>();
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const skip = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i)) {
      if (c === 10) {
        line++;
        lineStart = i + 1;
      }
    }
  };
  const string = (): string => {
    const start = i;
    for (i++; text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
    return JSON.parse(text.slice(start, ++i)) as string;
  };
  const value = (path: PathSeg[]): void => {
    skip();
    const open = text[i];
    if (open === '"') string();
    else if (open !== '{' && open !== '[') while (i < text.length && !',]} \t\r\n'.includes(text[i])) i++;
    else {
      const close = open === '{' ? '}' : ']';
      i++;
      skip();
      for (let n = 0; text[i] !== close; n++) {
        skip();
        const at = { line, column: i - lineStart + 1 };
        const item = [...path, open === '{' ? string() : n];
        positions.set(pathKey(item), at);
        if (open === '{') {
          skip();
          i++; // the colon
        }
        value(item);
        skip();
        if (text[i] === ',') i++;
      }
      i++;
    }
  };
  value([]);
  return positions;
}
