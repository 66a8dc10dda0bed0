/**
 * A small HCL1 parser (the dialect of hashicorp/hcl v1 that consul-template and Vault Agent
 * configs use). It returns exactly what `hcl.Unmarshal` into `interface{}` gives, as JSON:
 * every block or `key = { }` object is a list of objects, labelled blocks nest
 * (`a "x" { }` is `a: [{ x: [{}] }]`), repeated keys append (lists, blocks) or overwrite
 * (scalars, converted to the first value's type as HCL1 does), `0644` is octal, and
 * `${...}` stays literal. Unlike js-hcl-parser it keeps positions and reports the token
 * that breaks the syntax. Text starting with `{` is not handled (HCL1 reads it as JSON).
 *
 * Pure: a single-pass char-code lexer feeding a recursive-descent parser, then the
 * decoder's rules over the small syntax tree.
 */
import { CertrenderError } from '../errors.js';

export type HclPathSegment = string | number;

export interface HclPosition {
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

export interface Hcl1Document {
  value: Record<string, unknown>;
  /**
   * Position of every key and list item, keyed by `pathKey(path)` where `path` leads into
   * `value` (`['template', 0, 'source']`). A key points at its (last, for a repeated scalar)
   * occurrence; an item of a block list at the key or label that opened the block
   * (`['a', 0, 'x', 0]` of `a "x" {}` is the label); an item of a `[...]` list at its first token.
   */
  positions: ReadonlyMap<string, HclPosition>;
}

export function pathKey(path: readonly HclPathSegment[]): string {
  return path.join(SEP);
}

const SEP = '\u0000';

const enum T {
  EOF,
  IDENT,
  BOOL,
  NUMBER,
  FLOAT,
  STRING,
  HEREDOC,
  LBRACE,
  RBRACE,
  LBRACK,
  RBRACK,
  COMMA,
  ASSIGN,
}

interface Key {
  name: string;
  line: number;
  col: number;
}
interface Item {
  keys: Key[];
  val: Node;
  /** The key that names this item where it is decoded (the stripped one after a label split). */
  at: Key;
}
interface ObjNode {
  k: 'obj';
  items: Item[];
  at: Key;
}
interface ListNode {
  k: 'list';
  elems: Node[];
  at: Key;
}
interface LitNode {
  k: 'lit';
  type: T;
  value: string | number | boolean;
  /** Source text of the token, for HCL1's conversions on repeated keys. */
  text: string;
  at: Key;
}
type Node = ObjNode | ListNode | LitNode;
type Kind = 'maps' | 'list' | 'int' | 'float' | 'bool' | 'string';
type Obj = Record<string, unknown>;

const KIND: Partial<Record<T, Kind>> = {
  [T.NUMBER]: 'int',
  [T.FLOAT]: 'float',
  [T.BOOL]: 'bool',
  [T.STRING]: 'string',
  [T.HEREDOC]: 'string',
};
const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
const isDigit = (c: number) => c >= 48 && c <= 57;
const isHex = (c: number) => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isAsciiLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const UNICODE_LETTER = /^\p{L}$/u;
// sticky single-class runs: linear, no backtracking, and native speed before the JIT warms up
const IDENT_RUN = /[A-Za-z0-9_.-]*/y;
const STRING_RUN = /[^"\\$\n]*/y;
const INTERPOLATION_RUN = /[^\\{}\n]*/y;
const skipRun = (run: RegExp, src: string, from: number): number => {
  run.lastIndex = from;
  run.test(src);
  return run.lastIndex;
};
const UNICODE_DIGIT = /^\p{Nd}$/u;

export function parseHcl1(input: string, file: string): Hcl1Document {
  // hcl v1 normalises line endings before scanning
  const src = input.includes('\r\n') ? input.replace(/\r\n/g, '\n') : input;
  const len = src.length;
  let i = 0;
  let line = 1;
  let lineStart = 0;
  // the current token
  let tt = T.EOF;
  let tStart = 0;
  let tLine = 1;
  let tCol = 1;
  let tVal: string | number | boolean = '';

  const fail = (at: { line: number; col: number }, msg: string): never => {
    throw new CertrenderError('CR_CONFIG_INVALID', `${file}:${at.line}:${at.col}: syntax error: ${msg}`, {
      hint: 'fix the HCL syntax at the position shown',
      context: { problems: [{ file, line: at.line, column: at.col, path: '', message: `syntax error: ${msg}` }] },
    });
  };
  const here = () => ({ line, col: i - lineStart + 1 });
  const tokAt = (): Key => ({ name: '', line: tLine, col: tCol });
  const found = (): string => {
    if (tt === T.EOF) return 'end of file';
    if (tt === T.HEREDOC) return 'a heredoc';
    const s = src.slice(tStart, i);
    return `'${s.length > 24 ? `${s.slice(0, 24)}…` : s}'`;
  };
  const newline = (at: number) => {
    line++;
    lineStart = at + 1;
  };
  /** Width (1 or 2) of an identifier character at `at`, 0 if it is none. */
  const identChar = (at: number, first: boolean): number => {
    if (at >= len) return 0;
    const c = src.charCodeAt(at);
    if (isAsciiLetter(c)) return 1;
    if (c < 0x80) return !first && (isDigit(c) || c === 45 || c === 46) ? 1 : 0;
    const ch = String.fromCodePoint(src.codePointAt(at)!);
    return UNICODE_LETTER.test(ch) || (!first && UNICODE_DIGIT.test(ch)) ? ch.length : 0;
  };

  // ---------------------------------------------------------------------------- lexer

  const scan = (): void => {
    for (;;) {
      const c = src.charCodeAt(i);
      if (c === 32 || c === 9 || c === 13) i++;
      else if (c === 10) newline(i++);
      else if (c === 35 || (c === 47 && src.charCodeAt(i + 1) === 47)) {
        const nl = src.indexOf('\n', i);
        i = nl < 0 ? len : nl;
      } else if (c === 47 && src.charCodeAt(i + 1) === 42) {
        const end = src.indexOf('*/', i + 2);
        if (end < 0) fail(here(), "unterminated comment: expected '*/', found end of file");
        for (; i < end; i++) if (src.charCodeAt(i) === 10) newline(i);
        i = end + 2;
      } else break;
    }
    tStart = i;
    tLine = line;
    tCol = i - lineStart + 1;
    if (i >= len) {
      tt = T.EOF;
      return;
    }
    const c = src.charCodeAt(i);
    const single = c === 123 ? T.LBRACE : c === 125 ? T.RBRACE : c === 91 ? T.LBRACK : c === 93 ? T.RBRACK : c === 44 ? T.COMMA : c === 61 ? T.ASSIGN : T.EOF;
    if (single !== T.EOF) {
      tt = single;
      i++;
    } else if (c === 34) scanString();
    else if (c === 60 && src.charCodeAt(i + 1) === 60) scanHeredoc();
    else if (isDigit(c) || ((c === 45 || c === 46) && isDigit(src.charCodeAt(i + 1)))) scanNumber();
    else if (identChar(i, true)) {
      for (let w = identChar(i, true); w > 0; w = identChar(i, false)) i = skipRun(IDENT_RUN, src, i + w);
      const word = src.slice(tStart, i);
      tt = word === 'true' || word === 'false' ? T.BOOL : T.IDENT;
      tVal = tt === T.BOOL ? word === 'true' : word;
    } else {
      const ch = String.fromCodePoint(src.codePointAt(i)!);
      fail(here(), `unexpected character '${ch}'${ch === '/' ? " (comments start with '//' or '/*')" : ''}`);
    }
  };

  const scanString = (): void => {
    const open = here();
    let out = '';
    let bytes: number[] | undefined; // \x.. and octal escapes are raw bytes in Go strings
    let depth = 0; // inside ${ }: kept raw, and quotes do not end the string
    let seg = ++i;
    const add = (text: string) => {
      if (!text) return;
      if (bytes) out += utf8(bytes);
      bytes = undefined;
      out += text;
    };
    for (;;) {
      i = skipRun(depth > 0 ? INTERPOLATION_RUN : STRING_RUN, src, i);
      if (i >= len) fail(open, `unterminated string: expected '"', found end of file`);
      const c = src.charCodeAt(i);
      if (c === 92) {
        if (depth > 0) {
          escape(false);
          continue;
        }
        add(src.slice(seg, i));
        const e = escape(true);
        if (typeof e === 'number') (bytes ??= []).push(e);
        else add(e);
        seg = i;
        continue;
      }
      if (c === 10) {
        if (depth === 0) fail(open, `unterminated string: expected '"' before the end of the line`);
        newline(i);
      } else if (depth > 0) depth += c === 123 ? 1 : c === 125 ? -1 : 0;
      else if (c === 34) break;
      else if (c === 36 && src.charCodeAt(i + 1) === 123) {
        depth = 1;
        i++;
      }
      i++;
    }
    add(src.slice(seg, i));
    tVal = bytes ? out + utf8(bytes) : out;
    tt = T.STRING;
    i++;
  };

  /**
   * Reads the escape at `i` (a backslash), as hcl v1's scanner checks it; decoded (outside
   * `${ }`), it is a string, or a byte for `\x..` and octal.
   */
  const escape = (decode: boolean): string | number => {
    const at = here();
    const c = src[i + 1];
    const digits = (from: number, n: number, ok: (c: number) => boolean) => {
      for (let k = from; k < from + n; k++) if (!ok(src.charCodeAt(k))) fail(at, `invalid escape: expected ${n} digits after '\\${c}'`);
      i = from + n;
      return src.slice(from, from + n);
    };
    if (c !== undefined && c in SIMPLE_ESCAPES) {
      i += 2;
      return SIMPLE_ESCAPES[c];
    }
    if (c >= '0' && c <= '7') {
      const v = parseInt(digits(i + 1, 3, (d) => d >= 48 && d <= 55), 8);
      return v > 255 && decode ? fail(at, `invalid escape: octal '\\${src.slice(i - 3, i)}' is above 377`) : v;
    }
    if (c === 'x') return parseInt(digits(i + 2, 2, isHex), 16);
    if (c === 'u' || c === 'U') {
      const v = parseInt(digits(i + 2, c === 'u' ? 4 : 8, isHex), 16);
      if (v > 0x10ffff && decode) fail(at, `invalid escape: '\\U${src.slice(i - 8, i)}' is not a Unicode code point`);
      return v >= 0xd800 && v <= 0xdfff ? '\ufffd' : String.fromCodePoint(Math.min(v, 0x10ffff));
    }
    return fail(at, `invalid escape '\\${c ?? ''}': expected \\n, \\t, \\", \\\\, \\x.., \\u.... or similar`);
  };

  const scanHeredoc = (): void => {
    const open = here();
    let j = i + 2;
    const dash = src.charCodeAt(j) === 45;
    if (dash) j++;
    const identStart = j;
    for (let w = identChar(j, false); w > 0 && src.charCodeAt(j) !== 45 && src.charCodeAt(j) !== 46; w = identChar(j, false)) j += w;
    const ident = src.slice(identStart, j);
    if (!ident) fail(open, `expected a heredoc marker after '<<${dash ? '-' : ''}', found ${j < len ? `'${src[j]}'` : 'end of file'}`);
    if (src.charCodeAt(j) !== 10) {
      fail({ line, col: j - lineStart + 1 }, `expected a newline after the heredoc marker '${ident}', found ${j < len ? `'${src[j]}'` : 'end of file'}`);
    }
    // hcl v1 accepts a closing line of spaces, the marker and \r's; for <<- it must also be
    // longer than "-MARKER", so an unindented marker does not close it.
    const minLength = ident.length + (dash ? 1 : 0);
    let bareMarker = false;
    for (let ls = j + 1; ; ) {
      newline(ls - 1);
      const nl = src.indexOf('\n', ls);
      if (nl < 0) {
        const why = bareMarker ? ` (an HCL1 <<-${ident} heredoc needs its closing marker indented)` : '';
        fail(open, `unterminated heredoc: expected a line '${ident}', found end of file${why}`);
      }
      let k = ls;
      while (k < nl && ((src.charCodeAt(k) >= 9 && src.charCodeAt(k) <= 13) || src.charCodeAt(k) === 32)) k++;
      if (src.startsWith(ident, k)) {
        let e = k + ident.length;
        while (src.charCodeAt(e) === 13) e++;
        if (e === nl && nl - ls >= minLength) {
          i = nl + 1;
          newline(nl);
          break;
        }
        if (e === nl) bareMarker = true;
      }
      ls = nl + 1;
    }
    tVal = heredocValue(src.slice(tStart, i), dash);
    tt = T.HEREDOC;
  };

  const scanNumber = (): void => {
    const at = here();
    let j = i;
    if (src.charCodeAt(j) === 45) j++;
    const lead0 = src.charCodeAt(j) === 48;
    if (lead0 && (src.charCodeAt(j + 1) | 32) === 120) {
      const s = (j += 2);
      while (isHex(src.charCodeAt(j))) j++;
      if (j === s) fail(at, `expected hexadecimal digits after '0x'`);
      tt = T.NUMBER;
    } else {
      let octalOk = true;
      for (; isDigit(src.charCodeAt(j)); j++) octalOk &&= src.charCodeAt(j) < 56;
      tt = T.NUMBER;
      if (src.charCodeAt(j) === 46) {
        tt = T.FLOAT;
        for (j++; isDigit(src.charCodeAt(j)); j++);
      }
      if ((src.charCodeAt(j) | 32) === 101) {
        tt = T.FLOAT;
        j++;
        if (src.charCodeAt(j) === 43 || src.charCodeAt(j) === 45) j++;
        const s = j;
        while (isDigit(src.charCodeAt(j))) j++;
        if (j === s) fail({ line, col: j - lineStart + 1 }, `expected exponent digits in number '${src.slice(i, j)}'`);
      }
      if (tt === T.NUMBER && lead0 && !octalOk) fail(at, `invalid octal number '${src.slice(i, j)}' (a leading 0 means octal in HCL1)`);
    }
    const text = src.slice(i, j);
    i = j;
    tVal = tt === T.FLOAT ? Number(text) : goInt(text) ?? fail(at, `number ${text} is out of range`);
    if (!Number.isFinite(tVal)) fail(at, `number ${text} is out of range`);
  };

  // ---------------------------------------------------------------------------- parser

  const items = (open?: Key): Item[] => {
    const out: Item[] = [];
    for (;;) {
      if (tt === T.EOF) return open ? fail(open, "expected '}' to close this block, found end of file") : out;
      if (tt === T.RBRACE && open) return out;
      out.push(item());
      if (tt === T.COMMA) scan();
    }
  };

  const item = (): Item => {
    const keys: Key[] = [];
    while (tt === T.IDENT || tt === T.STRING) {
      keys.push({ name: tVal as string, line: tLine, col: tCol });
      scan();
    }
    const named = () => keys.map((k) => k.name).join(' ');
    let val: Node;
    if (keys.length > 0 && tt === T.ASSIGN) {
      if (keys.length > 1) fail(tokAt(), `expected '{' after the block labels of '${named()}', found '='`);
      scan();
      val = value(() => `expected a value after '${named()} ='`);
    } else if (keys.length > 0 && tt === T.LBRACE) val = object();
    else return fail(tokAt(), keys.length ? `expected '=' or '{' after '${named()}', found ${found()}` : `expected a key, found ${found()}`);
    return { keys, val, at: keys[0] };
  };

  const value = (expected: () => string): Node => {
    if (tt === T.LBRACE) return object();
    if (tt === T.LBRACK) return list();
    if (!KIND[tt]) fail(tokAt(), `${expected()}, found ${found()}`);
    const node: LitNode = { k: 'lit', type: tt, value: tVal, text: src.slice(tStart, i), at: tokAt() };
    scan();
    return node;
  };

  const object = (): ObjNode => {
    const at = tokAt();
    scan();
    const node: ObjNode = { k: 'obj', items: items(at), at };
    scan();
    return node;
  };

  /** hcl v1's list grammar: commas are optional before `]`, after `[`, repeated, and after a nested list. */
  const list = (): ListNode => {
    const at = tokAt();
    const elems: Node[] = [];
    let needComma = false;
    scan();
    for (;;) {
      if (tt === T.EOF) fail(at, "expected ']' to close this list, found end of file");
      if (tt === T.RBRACK) {
        scan();
        return { k: 'list', elems, at };
      }
      if (tt === T.COMMA) {
        scan();
        needComma = false;
        continue;
      }
      if (needComma) fail(tokAt(), `expected ',' or ']' after a list item, found ${found()}`);
      const nested = tt === T.LBRACK;
      elems.push(value(() => "expected a list item or ']'"));
      needComma = !nested;
    }
  };

  // ---------------------------------------------------------------------------- decoder

  const positions = new Map<string, HclPosition>();
  const place = (path: string, at: Key) => positions.set(path, { line: at.line, column: at.col });
  const mixed = (at: Key): never => fail(at, `'${at.name}' is used both with and without labels: expected a label after it here, as elsewhere in this file`);
  const retyped = (at: Key, kind: Kind, node: Node): never =>
    fail(node.at, `'${at.name}' is repeated with a value that does not convert to the ${kind} it was first set to`);

  /** An object list into a map, as hcl v1's decodeMap: labelled keys gather every item of that key. */
  const decodeMap = (list: Item[], prefix: string): Obj => {
    const out: Obj = {};
    const kinds = new Map<string, Kind>();
    let done: Set<string> | undefined;
    for (const it of list) {
      if (it.keys.length === 0) mixed(it.at);
      const key = it.keys[0];
      if (done?.has(key.name)) continue;
      let payload: Node | Item[] = it.val;
      if (it.keys.length > 1) {
        const name = key.name.toLowerCase(); // strings.EqualFold
        payload = list
          .filter((o) => o.keys.length > 0 && (o.keys[0].name === key.name || o.keys[0].name.toLowerCase() === name))
          .map((o) => ({ keys: o.keys.slice(1), val: o.val, at: o.keys[0] }));
        (done ??= new Set()).add(key.name);
      }
      const path = prefix + key.name;
      const kind = kinds.get(key.name);
      if (kind === undefined) {
        const [v, k] = fresh(payload, path, key);
        setKey(out, key.name, v);
        kinds.set(key.name, k);
        place(path, key);
      } else if (kind === 'maps' || kind === 'list') {
        append(out[key.name] as unknown[], kind, payload, path, key);
      } else {
        setKey(out, key.name, convert(kind, payload, key));
        place(path, key);
      }
    }
    return out;
  };

  /** A value for a new map key: objects become one-element lists of maps. */
  const fresh = (payload: Node | Item[], path: string, at: Key): [unknown, Kind] => {
    if (Array.isArray(payload) || payload.k === 'obj') {
      const arr: unknown[] = [];
      append(arr, 'maps', payload, path, at);
      return [arr, 'maps'];
    }
    if (payload.k === 'list') return [payload.elems.map((e, n) => element(e, path + SEP + n)), 'list'];
    return [payload.value, KIND[payload.type]!];
  };

  /** A list item: objects are plain maps here. */
  const element = (node: Node, path: string): unknown => {
    place(path, node.at);
    if (node.k === 'obj') return decodeMap(node.items, path + SEP);
    if (node.k === 'list') return node.elems.map((e, n) => element(e, path + SEP + n));
    return node.value;
  };

  /** hcl v1's decodeSlice onto an existing list of maps (`maps`) or of values (`list`). */
  const append = (arr: unknown[], kind: Kind, payload: Node | Item[], path: string, at: Key): void => {
    const push = (v: unknown, where: Key) => {
      place(path + SEP + arr.length, where);
      arr.push(v);
    };
    if (Array.isArray(payload)) {
      if (kind === 'list') retyped(at, kind, payload[0].val);
      for (const it of payload) push(decodeMap([it], path + SEP + arr.length + SEP), it.at);
    } else if (payload.k === 'obj') push(decodeMap(payload.items, path + SEP + arr.length + SEP), at);
    else if (payload.k === 'list') {
      for (const e of payload.elems) {
        if (kind === 'maps' && e.k !== 'obj') retyped(at, kind, e);
        arr.push(element(e, path + SEP + arr.length));
      }
    } else retyped(at, kind, payload);
  };

  /** A repeated scalar key takes the new value converted to the first value's type. */
  const convert = (kind: Kind, payload: Node | Item[], at: Key): unknown => {
    if (Array.isArray(payload) || payload.k !== 'lit') return retyped(at, kind, Array.isArray(payload) ? payload[0].val : payload);
    const { type, value: v, text } = payload;
    if (kind === 'string') return type === T.STRING || type === T.HEREDOC ? v : text;
    if (kind === 'int' && (type === T.NUMBER || type === T.STRING)) return type === T.NUMBER ? v : goInt(v as string) ?? retyped(at, kind, payload);
    if (kind === 'float' && (type === T.NUMBER || type === T.FLOAT) && !/x/i.test(text)) return Number(text);
    if (kind === 'bool' && (type === T.BOOL || type === T.STRING || type === T.NUMBER)) {
      const b = text.replaceAll('"', '').toLowerCase();
      if (b === 'true' || b === '1' || b === 'false' || b === '0') return b === 'true' || b === '1';
    }
    return retyped(at, kind, payload);
  };

  scan();
  const root = items();
  return { value: decodeMap(root, ''), positions };
}

// ---------------------------------------------------------------------------- helpers

function setKey(obj: Obj, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[key] = v;
}

/** Go's strconv.ParseInt(s, 0, 64); undefined when invalid or out of range. */
function goInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const d = m[2];
  const big = BigInt(d.length > 1 && d[0] === '0' && d[1] !== 'x' && d[1] !== 'X' ? `0o${d.slice(1)}` : d);
  const v = m[1] === '-' ? -big : big;
  return v > 0x7fffffffffffffffn || v < -0x8000000000000000n ? undefined : Number(v);
}

/** Bytes to a string the way Go's JSON encoder reads them: each invalid byte is U+FFFD. */
function utf8(b: number[]): string {
  let s = '';
  for (let k = 0; k < b.length; ) {
    const c = b[k];
    const n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    let cp = n === 1 ? c : c & (0xff >> (n + 1));
    let ok = n > 0 && k + n <= b.length;
    for (let m = 1; ok && m < n; m++) {
      ok = (b[k + m] & 0xc0) === 0x80;
      cp = (cp << 6) | (b[k + m] & 0x3f);
    }
    ok &&= n < 3 || (n === 3 ? cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff) : cp >= 0x10000 && cp <= 0x10ffff);
    s += ok ? String.fromCodePoint(cp) : '\ufffd';
    k += ok ? n : 1;
  }
  return s;
}

/** hcl v1's unindentHeredoc over the token text `<<[-]MARKER\n...MARKER\n`, quirks included. */
function heredocValue(text: string, dash: boolean): string {
  const idx = text.indexOf('\n');
  const plain = text.slice(idx + 1, text.length - idx + 1);
  if (!dash) return plain;
  const lines = text.slice(idx + 1, text.length - idx + 2).split('\n');
  const indent = lines[lines.length - 1];
  if (lines.every((l) => l.startsWith(indent))) return lines.map((l, n) => (n === lines.length - 1 ? '' : l.slice(indent.length))).join('\n');
  let end = plain.length;
  while (end > 0 && (plain.charCodeAt(end - 1) === 32 || plain.charCodeAt(end - 1) === 9)) end--;
  return plain.slice(0, end);
}
