/**
 * The config front door: reads files and directories, detects HCL1 or JSON by content,
 * normalises HCL1's block arrays to the schema's shape, merges several files and
 * validates the result with the one schema.
 *
 * Problems are reported as `FILE:LINE: KEY.PATH: message`, all of them at once. Key paths
 * use 0-based indices into the merged `template` and `atomic_dir` lists
 * (`template.0.destination` is the first template of all files, in load order); the
 * line is the one in the file that supplied the value, found by a small position
 * scanner over the source text (js-hcl-parser keeps no positions).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { CertrenderError } from '../errors.js';
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
}

const LIST_BLOCKS = new Set(['template', 'atomic_dir']);
const SINGLETONS = ['vault', 'local_ca', 'renew'];
const VAULT_SINGLETONS = ['ssl', 'retry'];
const IGNORED_WITH_LOCAL_CA = ['VAULT_ADDR', 'VAULT_TOKEN', 'BAO_ADDR', 'BAO_TOKEN'];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function loadConfig(opts: {
  paths: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const files: string[] = [];
  for (const p of opts.paths) files.push(...(await expandPath(resolve(opts.cwd, p))));

  const sources: { file: string; text: string; parsed: ParsedConfigText }[] = [];
  const syntax: ConfigProblem[] = [];
  for (const file of files) {
    const text = await readText(file);
    try {
      sources.push({ file, text, parsed: parseConfigText({ text, file }) });
    } catch (e) {
      if (!(e instanceof CertrenderError) || e.code !== 'CR_CONFIG_INVALID') throw e;
      syntax.push(...(e.details?.problems as ConfigProblem[]));
    }
  }
  if (syntax.length > 0) throw invalid(syntax);

  const merged = mergeRaw(sources.map((s) => s.parsed.raw));
  const result = configSchema.safeParse(merged.raw, {
    error: (iss) => (iss.code === 'invalid_type' && iss.input === undefined ? 'required key is missing' : undefined),
  });
  if (!result.success) {
    const positions = new Map<number, PosValue>();
    const problems = result.error.issues.flatMap(issueProblems).map(({ path, message }): ConfigProblem => {
      const at = merged.locate(path);
      const src = sources[at.file];
      if (!positions.has(at.file)) positions.set(at.file, scanPositions(src.text, src.parsed.format === 'json'));
      return { file: src.file, line: lineOf(positions.get(at.file)!, at.path), path: path.join('.'), message };
    });
    const order = (p: ConfigProblem) => files.indexOf(p.file) * 1e9 + (p.line ?? 0);
    throw invalid(problems.sort((a, b) => order(a) - order(b)));
  }

  const config = result.data;
  const warnings: string[] = [];
  if (config.local_ca) {
    for (const name of IGNORED_WITH_LOCAL_CA) if (env[name]) warnings.push(`local_ca is set: ${name} is ignored`);
    if (config.vault) warnings.push('local_ca is set: the vault block is ignored');
  }
  return { config, files, baseDir: resolve(opts.cwd), warnings };
}

/** Parses one file's text: JSON when it starts with `{` and is valid JSON, HCL1 otherwise. */
export function parseConfigText(opts: { text: string; file: string }): ParsedConfigText {
  const text = opts.text.replace(/^\uFEFF/, '');
  if (firstSignificantChar(text) === '{') {
    try {
      return { raw: normalize(JSON.parse(text) as Obj), format: 'json' };
    } catch {
      // not JSON: HCL1's own parser reads JSON too and reports where it breaks
    }
  }
  return { raw: normalize(parseHcl(text, opts.file)), format: 'hcl' };
}

// ---------------------------------------------------------------------------- reading

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
    details: { file: path },
  });
}

function invalid(problems: ConfigProblem[]): CertrenderError {
  const lines = problems.map((p) => {
    const at = [p.file, p.line, p.column].filter((x) => x !== undefined).join(':');
    return p.path ? `${at}: ${p.path}: ${p.message}` : `${at}: ${p.message}`;
  });
  return new CertrenderError('CR_CONFIG_INVALID', lines.join('\n'), {
    hint: 'fix the keys named above (schema: schema/certrender.schema.json)',
    details: { problems },
  });
}

// ---------------------------------------------------------------------------- parsing

function firstSignificantChar(text: string): string | undefined {
  const m = /^(?:\s+|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*(.)/.exec(text);
  return m?.[1];
}

let hcl: { parse(text: string): string } | undefined;

function parseHcl(text: string, file: string): Obj {
  hcl ??= createRequire(import.meta.url)('js-hcl-parser') as { parse(text: string): string };
  let out: string;
  try {
    out = hcl.parse(text);
  } catch (e) {
    out = String(e);
  }
  try {
    return JSON.parse(out) as Obj;
  } catch {
    // not JSON: an error string
  }
  // On a syntax error js-hcl-parser returns "unable to parse JSON: At 1:17: ..." instead of throwing.
  const reason = out.replace(/^unable to parse JSON:\s*/, '');
  const pos = /^At (\d+):(\d+):\s*([\s\S]*)$/.exec(reason);
  if (pos) {
    throw invalid([{ file, line: Number(pos[1]), column: Number(pos[2]), path: '', message: `syntax error: ${pos[3]}` }]);
  }
  // "At -: root.atomic_dir[1]: map must have string keys" (labelled and unlabelled blocks mixed)
  const block = /root\.(\w+)\[(\d+)\]/.exec(reason);
  const line = block ? lineOf(scanPositions(text, false), [block[1], Number(block[2])]) : undefined;
  const mixed = /map must have string keys/.test(reason) ? ' (labelled and unlabelled blocks cannot be mixed in one file)' : '';
  throw invalid([{ file, line, path: '', message: `syntax error: ${reason.replace(/^At -:\s*/, '')}${mixed}` }]);
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
  return out;
}

/** A block repeated in one file: the last wins. */
function singleton(v: unknown): unknown {
  return Array.isArray(v) && v.length > 0 && v.every(isObj) ? v[v.length - 1] : v;
}

/** `atomic_dir "/x" { keep = 2 }` arrives as `{ "/x": [{ keep: 2 }] }`. */
function unlabel(item: unknown): unknown {
  if (!isObj(item)) return item;
  const keys = Object.keys(item);
  if (keys.length !== 1 || keys[0] in atomicDirSchema.shape) return item;
  const body = singleton(item[keys[0]]);
  return isObj(body) ? { ...body, path: keys[0] } : item;
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
  def: { type: string; shape?: Record<string, SchemaNode>; element?: SchemaNode; innerType?: SchemaNode; in?: SchemaNode };
}

/** Keys the schema allows in the object at `path`. */
function knownKeys(path: PathSeg[]): string[] {
  const unwrap = (s: SchemaNode | undefined): SchemaNode | undefined => {
    while (s && (s.def.innerType || s.def.type === 'pipe')) s = s.def.innerType ?? s.def.in;
    return s;
  };
  let node = unwrap(configSchema as unknown as SchemaNode);
  for (const seg of path) node = unwrap(typeof seg === 'number' ? node?.def.element : node?.def.shape?.[seg]);
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

/**
 * A position scanner for files that already parsed: it keeps only keys, nesting and
 * lines. Block labels (`atomic_dir "/x" {}`) become a `path` key on the label's line.
 */
interface PosValue {
  line: number;
  entries?: PosEntry[];
  items?: PosValue[];
}

interface PosEntry {
  key: string;
  line: number;
  value: PosValue;
}

interface Token {
  t: 'str' | 'word' | '{' | '}' | '[' | ']' | '=' | ':' | ',';
  v: string;
  line: number;
}

function scanPositions(text: string, json: boolean): PosValue {
  const toks = tokenize(text, !json);
  let k = 0;
  const isName = (t: Token | undefined) => t?.t === 'str' || t?.t === 'word';
  const value = (): PosValue => {
    const t = toks[k++];
    if (t.t === '{') return { line: t.line, entries: body() };
    if (t.t !== '[') return { line: t.line };
    const items: PosValue[] = [];
    while (k < toks.length && toks[k].t !== ']') {
      if (toks[k].t === ',') k++;
      else items.push(value());
    }
    k++;
    return { line: t.line, items };
  };
  const body = (): PosEntry[] => {
    const entries: PosEntry[] = [];
    while (k < toks.length) {
      const t = toks[k++];
      if (t.t === '}') break;
      if (!isName(t)) continue;
      const labels: Token[] = [];
      while (isName(toks[k])) labels.push(toks[k++]);
      const op = toks[k]?.t;
      if ((op === '=' || op === ':') && k + 1 < toks.length) {
        k++;
        entries.push({ key: t.v, line: t.line, value: value() });
      } else if (op === '{') {
        k++;
        const label: PosEntry | undefined = labels[0] && { key: 'path', line: labels[0].line, value: { line: labels[0].line } };
        const inner = body();
        entries.push({ key: t.v, line: t.line, value: { line: t.line, entries: label ? [label, ...inner] : inner } });
      }
    }
    return entries;
  };
  if (json && toks[0]?.t === '{') return value();
  return { line: 1, entries: body() };
}

function tokenize(text: string, hclStrings: boolean): Token[] {
  const toks: Token[] = [];
  let line = 1;
  let i = 0;
  const skipTo = (end: number) => {
    for (; i < end; i++) if (text[i] === '\n') line++;
  };
  while (i < text.length) {
    const c = text[i];
    const start = line;
    if (/\s/.test(c)) skipTo(i + 1);
    else if (c === '#' || text.startsWith('//', i)) skipTo(text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i));
    else if (text.startsWith('/*', i)) skipTo(text.indexOf('*/', i) < 0 ? text.length : text.indexOf('*/', i) + 2);
    else if ('{}[]=:,'.includes(c)) {
      toks.push({ t: c as Token['t'], v: c, line });
      i++;
    } else if (c === '"') {
      const end = stringEnd(text, i, hclStrings);
      const v = text.slice(i + 1, end - 1).replace(/\\(.)/g, '$1');
      skipTo(end);
      toks.push({ t: 'str', v, line: start });
    } else if (hclStrings && /^<<-?([A-Za-z_][\w-]*)\r?\n/.test(text.slice(i, i + 100))) {
      const marker = /^<<-?([A-Za-z_][\w-]*)/.exec(text.slice(i))![1];
      const term = new RegExp(`\\n[ \\t]*${marker}[ \\t]*(?=\\r?\\n|$)`, 'g');
      term.lastIndex = i;
      const m = term.exec(text);
      skipTo(m ? m.index + m[0].length : text.length);
      toks.push({ t: 'str', v: '', line: start });
    } else {
      const m = /[^\s{}[\]=:,"#]+/y;
      m.lastIndex = i;
      const word = m.exec(text)?.[0] ?? c;
      toks.push({ t: 'word', v: word, line });
      i += word.length;
    }
  }
  return toks;
}

/** Index just past the closing quote; HCL strings may nest quotes inside `${ }`. */
function stringEnd(text: string, open: number, hcl: boolean): number {
  let depth = 0;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (hcl && c === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (depth > 0 && c === '}') depth--;
    else if (depth > 0 && c === '"') i = stringEnd(text, i, hcl) - 1;
    else if (c === '"') return i + 1;
  }
  return text.length;
}

/**
 * Line of a key path in one file, following the loader's shapes: a list index counts
 * blocks of that key in order (or items of a list value); a repeated singleton takes
 * the last. Falls back to the deepest block found.
 */
function lineOf(root: PosValue, path: PathSeg[]): number | undefined {
  let node = root;
  let line: number | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (typeof seg === 'number') {
      const item = node.items?.[seg];
      if (!item) break;
      node = item;
      line = item.line;
      continue;
    }
    const hits = node.entries?.filter((e) => e.key === seg) ?? [];
    if (hits.length === 0) break;
    const next = path[i + 1];
    if (typeof next === 'number') {
      const items = hits.flatMap((e) => e.value.items ?? [{ ...e.value, line: e.line }]);
      line = hits[0].line;
      if (!items[next]) break;
      node = items[next];
      line = node.line;
      i++;
      continue;
    }
    const last = hits[hits.length - 1];
    line = last.line;
    node = last.value.items?.length ? last.value.items[last.value.items.length - 1] : last.value;
  }
  return line;
}
