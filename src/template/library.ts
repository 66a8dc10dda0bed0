/**
 * consul-template's pure template functions (v0.42 semantics and output formats), for
 * every engine. Go argument order: a piped value is the LAST argument. Arguments are
 * plain JS values; Go's int/float split is read from the value: an integer number or a
 * bigint is an int, any other number a float (so a float literal like 2.0 is an int
 * here). Integers beyond 2^53 are bigints. Every failure is CR_TEMPLATE_FUNCTION
 * "<name>: ...". Any STUB argument (data not fetched yet) yields STUB. Pure.
 */
import { createHash, createHmac } from 'node:crypto';
import { CertrenderError } from '../errors.js';
import { goJSON } from './go-json.js';
import { compileGoRegexp, goReplaceAll } from './go-regexp.js';
import { STUB, isStub } from './stub.js';

export function fnError(name: string, msg: string): CertrenderError {
  return new CertrenderError('CR_TEMPLATE_FUNCTION', `${name}: ${msg}`);
}

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v);

/** A string argument; null/undefined (a missing key) and stubs read as "". */
function str(name: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null || isStub(v)) return '';
  throw fnError(name, `expected a string, got ${typeName(v)} ${JSON.stringify(v)}`);
}

function list(name: string, v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  throw fnError(name, `expected a list, got ${typeName(v)}`);
}

// ---- numbers: Go ints (integer numbers, bigints) and floats --------------------------------

type Num = { int: bigint } | { float: number };

function num(name: string, v: unknown): Num {
  if (typeof v === 'bigint') return { int: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: BigInt(v) } : { float: v };
  throw fnError(name, `unknown type for ${JSON.stringify(v)} (${typeName(v)})`);
}

/** An integer as a number when exact, else a bigint. */
const exact = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

/** An int64 result (Go wraps on overflow). */
const int64 = (v: bigint) => exact(BigInt.asIntN(64, v));

const asFloat = (n: Num) => ('int' in n ? Number(n.int) : n.float);

/** consul-template's math: `op b a` computes a OP b (the piped value is a). */
function arith(name: string, intOp: (a: bigint, b: bigint) => bigint, floatOp?: (a: number, b: number) => number) {
  return (bv: unknown, av: unknown) => {
    const a = num(name, av);
    const b = num(name, bv);
    if ('int' in a && 'int' in b) {
      if (b.int === 0n && (name === 'divide' || name === 'modulo')) throw fnError(name, 'integer divide by zero');
      return int64(intOp(a.int, b.int));
    }
    if (!floatOp) throw fnError(name, `unknown type for ${'float' in b ? bv : av} (float64)`);
    return floatOp(asFloat(a), asFloat(b));
  };
}

function pick(name: string, keepA: (a: number, b: number) => boolean) {
  return (bv: unknown, av: unknown) => {
    const a = num(name, av);
    const b = num(name, bv);
    return keepA(asFloat(a), asFloat(b)) ? av : bv;
  };
}

// ---- strings -------------------------------------------------------------------------------

const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM_SPACE = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, 'g');

/** Go maps case rune by rune (unicode.ToUpper): no expansion like ß -> SS. */
const perRune = (s: string, f: (c: string) => string) => [...s].map((c) => { const m = f(c); return [...m].length === 1 ? m : c; }).join('');

/** Words as golang.org/x/text/cases segments them, closely enough: letters/digits/_ joined by ' . : */
const WORD = /[\p{L}\p{N}\p{M}_]+(?:['.:\u2019\u00b7][\p{L}\p{N}\p{M}_]+)*/gu;

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

function b64decode(name: string, s: string, re: RegExp, enc: 'base64' | 'base64url'): string {
  const clean = s.replace(/[\r\n]/g, ''); // Go skips newlines
  if (!re.test(clean)) throw fnError(name, 'input is not valid base64');
  return Buffer.from(clean, enc).toString('utf8');
}

/** strconv.ParseInt/ParseUint(s, 10, 64) after consul-template's "" -> 0. */
function parseInteger(name: string, s: string, min: bigint, max: bigint): number | bigint {
  if (s === '') return 0;
  if (!/^[+-]?\d+$/.test(s)) throw fnError(name, `parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v < min || v > max) throw fnError(name, `parsing ${JSON.stringify(s)}: value out of range`);
  return exact(v);
}

const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const HEX_FLOAT = /^([+-]?)0x([0-9a-f]*)\.?([0-9a-f]*)p([+-]?\d+)$/i;

function parseGoFloat(s: string): number {
  if (s === '') return 0;
  const hex = HEX_FLOAT.exec(s);
  let v: number;
  if (hex && (hex[2] || hex[3])) {
    v = parseInt(hex[2] + hex[3] || '0', 16) * 2 ** (Number(hex[4]) - 4 * hex[3].length) * (hex[1] === '-' ? -1 : 1);
  } else if (FLOAT.test(s)) {
    const t = s.toLowerCase().replace(/^([+-]?)inf(inity)?$/, '$1Infinity');
    v = /nan/.test(t) ? NaN : Number(t);
    if (!Number.isFinite(v) && !/inf/i.test(s) && !/nan/i.test(s)) throw fnError('parseFloat', `parsing ${JSON.stringify(s)}: value out of range`);
  } else {
    throw fnError('parseFloat', `parsing ${JSON.stringify(s)}: invalid syntax`);
  }
  return v;
}

const BOOLS: Record<string, boolean> = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false };

/** `in`: Go compares ints with ints, floats with floats, strings with strings. */
function goIn(l: unknown, v: unknown): boolean {
  if (Array.isArray(l)) {
    return l.some((e) => {
      if (typeof e === 'string' || typeof v === 'string') return e === v;
      if ((typeof e === 'number' || typeof e === 'bigint') && (typeof v === 'number' || typeof v === 'bigint')) {
        const a = num('in', e);
        const b = num('in', v);
        return 'int' in a ? 'int' in b && a.int === b.int : 'float' in b && a.float === b.float;
      }
      return false;
    });
  }
  return typeof l === 'string' && typeof v === 'string' && l.includes(v);
}

/** containsAll/Any/None/NotAll: consul-template's containsSomeFunc(retTrue, invert). */
function containsSome(name: string, retTrue: boolean, invert: boolean) {
  return (v: unknown, l: unknown) => {
    for (const x of list(name, v)) if (goIn(l, x) !== invert) return !retTrue;
    return retTrue;
  };
}

function loopBound(v: unknown): bigint {
  if (typeof v === 'string') return BigInt(parseInteger('loop', v, -(2n ** 63n), 2n ** 63n - 1n));
  const n = num('loop', v);
  if ('float' in n) throw fnError('loop', `bad argument type: float64`);
  return n.int;
}

const regexCache = new Map<string, RegExp>();
function goRegexp(name: string, re: string): RegExp {
  let r = regexCache.get(re);
  if (!r) {
    r = compileGoRegexp(re, (why) => fnError(name, `error parsing regexp ${JSON.stringify(re)}: ${why}`));
    regexCache.set(re, r);
  }
  return r;
}

const json = (name: string, v: unknown, indent?: string) =>
  goJSON(v, { indent, fail: (why) => fnError(name, why), leaf: (x) => (isStub(x) ? '""' : undefined) });

const libraryImpl = {
  base64Encode: (s: unknown) => Buffer.from(str('base64Encode', s), 'utf8').toString('base64'),
  base64Decode: (s: unknown) => b64decode('base64Decode', str('base64Decode', s), B64, 'base64'),
  base64URLEncode: (s: unknown) => Buffer.from(str('base64URLEncode', s), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_'),
  base64URLDecode: (s: unknown) => b64decode('base64URLDecode', str('base64URLDecode', s), B64URL, 'base64url'),
  toJSON: (v: unknown) => json('toJSON', v),
  toJSONPretty: (v: unknown) => json('toJSONPretty', v, '  '),
  parseJSON: (s: unknown) => {
    const t = str('parseJSON', s);
    if (t === '') return {};
    try {
      return JSON.parse(t) as unknown;
    } catch (e) {
      throw fnError('parseJSON', (e as Error).message);
    }
  },
  trimSpace: (s: unknown) => str('trimSpace', s).replace(TRIM_SPACE, ''),
  trim: (cutset: unknown, s: unknown) => {
    const cut = new Set(str('trim', cutset));
    const runes = [...str('trim', s)];
    let a = 0;
    let b = runes.length;
    while (a < b && cut.has(runes[a])) a++;
    while (b > a && cut.has(runes[b - 1])) b--;
    return runes.slice(a, b).join('');
  },
  trimPrefix: (prefix: unknown, s: unknown) => {
    const p = str('trimPrefix', prefix);
    const t = str('trimPrefix', s);
    return t.startsWith(p) ? t.slice(p.length) : t;
  },
  trimSuffix: (suffix: unknown, s: unknown) => {
    const p = str('trimSuffix', suffix);
    const t = str('trimSuffix', s);
    return p && t.endsWith(p) ? t.slice(0, t.length - p.length) : t;
  },
  split: (sep: unknown, s: unknown) => {
    const t = libraryImpl.trimSpace(s);
    if (t === '') return [];
    const p = str('split', sep);
    return p === '' ? [...t] : t.split(p);
  },
  join: (sep: unknown, l: unknown) => list('join', l).map((e) => str('join', e)).join(str('join', sep)),
  replaceAll: (from: unknown, to: unknown, s: unknown) => {
    const f = str('replaceAll', from);
    const t = str('replaceAll', to);
    const src = str('replaceAll', s);
    return f === '' ? t + [...src].map((c) => c + t).join('') : src.split(f).join(t);
  },
  contains: (v: unknown, l: unknown) => goIn(l, v),
  in: (l: unknown, v: unknown) => goIn(l, v),
  containsAll: containsSome('containsAll', true, true),
  containsAny: containsSome('containsAny', false, false),
  containsNone: containsSome('containsNone', true, false),
  containsNotAll: containsSome('containsNotAll', false, true),
  toLower: (s: unknown) => perRune(str('toLower', s), (c) => c.toLowerCase()),
  toUpper: (s: unknown) => perRune(str('toUpper', s), (c) => c.toUpperCase()),
  toTitle: (s: unknown) => str('toTitle', s).replace(WORD, (w) => w.replace(/\p{L}/u, (c) => perRune(c, (x) => x.toUpperCase()))),
  indent: (spaces: unknown, s: unknown) => {
    const n = num('indent', spaces);
    if (!('int' in n)) throw fnError('indent', 'expected an integer number of spaces');
    if (n.int < 0n) throw fnError('indent', 'indent value must be a positive integer');
    const prefix = ' '.repeat(Number(n.int));
    return str('indent', s).replace(/^(?=[^\n])/gm, prefix);
  },
  parseInt: (s: unknown) => parseInteger('parseInt', str('parseInt', s), -(2n ** 63n), 2n ** 63n - 1n),
  parseUint: (s: unknown) => parseInteger('parseUint', str('parseUint', s), 0n, 2n ** 64n - 1n),
  parseFloat: (s: unknown) => parseGoFloat(str('parseFloat', s)),
  parseBool: (s: unknown) => {
    const t = str('parseBool', s);
    if (t === '') return false;
    if (!(t in BOOLS)) throw fnError('parseBool', `parsing ${JSON.stringify(t)}: invalid syntax`);
    return BOOLS[t];
  },
  sha256Hex: (s: unknown) => createHash('sha256').update(str('sha256Hex', s), 'utf8').digest('hex'),
  md5sum: (s: unknown) => createHash('md5').update(str('md5sum', s), 'utf8').digest('hex'),
  hmacSHA256Hex: (message: unknown, key: unknown) => createHmac('sha256', str('hmacSHA256Hex', key)).update(str('hmacSHA256Hex', message)).digest('hex'),
  regexMatch: (re: unknown, s: unknown) => goRegexp('regexMatch', str('regexMatch', re)).test(str('regexMatch', s)),
  regexReplaceAll: (re: unknown, repl: unknown, s: unknown) =>
    goReplaceAll(goRegexp('regexReplaceAll', str('regexReplaceAll', re)), str('regexReplaceAll', s), str('regexReplaceAll', repl)),
  add: arith('add', (a, b) => a + b, (a, b) => a + b),
  subtract: arith('subtract', (a, b) => a - b, (a, b) => a - b),
  multiply: arith('multiply', (a, b) => a * b, (a, b) => a * b),
  divide: arith('divide', (a, b) => a / b, (a, b) => a / b),
  modulo: arith('modulo', (a, b) => a % b),
  minimum: pick('minimum', (a, b) => a < b),
  maximum: pick('maximum', (a, b) => a > b),
  loop: (...args: unknown[]) => {
    if (args.length < 1 || args.length > 2) throw fnError('loop', `wrong number of arguments, expected 1 or 2, but got ${args.length}`);
    const [start, stop] = args.length === 1 ? [0n, loopBound(args[0])] : [loopBound(args[0]), loopBound(args[1])];
    const out: (number | bigint)[] = [];
    for (let i = start; i < stop; i++) out.push(int64(i));
    return out;
  },
};

/** Any STUB argument (discovery) answers STUB instead of running the function. */
function stubSafe<F extends (...a: any[]) => unknown>(fn: F): F {
  return ((...a: unknown[]) => (a.some(isStub) ? STUB : fn(...a))) as F;
}

export type Library = typeof libraryImpl;

/** The pure functions, Go argument order. */
export const library: Library = Object.fromEntries(Object.entries(libraryImpl).map(([k, f]) => [k, stubSafe(f)])) as Library;
