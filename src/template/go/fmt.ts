/**
 * Go's fmt for template values: Sprint, Sprintln, Sprintf with Go's verbs, flags,
 * width/precision (`*` and `[n]` indexes too), spacing rules and error output
 * (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`). Floats format like strconv,
 * exactly (round half to even on the exact binary value).
 */
import { kindOf, num, sortedKeys, typeName } from './value.js';

interface Flags {
  plus: boolean; minus: boolean; sharp: boolean; space: boolean; zero: boolean;
  plusV: boolean; sharpV: boolean;
  wid: number; widPresent: boolean; prec: number; precPresent: boolean;
}

const clearFlags = (): Flags => ({ plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false, wid: 0, widPresent: false, prec: 0, precPresent: false });
const runeCount = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

// ---- strconv.FormatFloat -------------------------------------------------------

interface Decimal { d: string; dp: number }

function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let e = -1074;
  if (expBits !== 0) {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  if (mant === 0n) return { d: '', dp: 0 };
  const digits = e >= 0 ? (mant << BigInt(e)).toString() : (mant * 5n ** BigInt(-e)).toString();
  const dp = e >= 0 ? digits.length : digits.length + e;
  return { d: digits.replace(/0+$/, ''), dp };
}

function shortestDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 };
  const [m, e] = x.toExponential().split('e');
  return { d: m.replace('.', '').replace(/0+$/, ''), dp: Number(e) + 1 };
}

function round(a: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= a.d.length) return nd < 0 ? { d: '', dp: 0 } : a;
  const c = a.d.charCodeAt(nd);
  const up = c > 53 || (c === 53 && (nd + 1 < a.d.length || (nd > 0 && (a.d.charCodeAt(nd - 1) - 48) % 2 === 1)));
  if (!up) return { d: a.d.slice(0, nd).replace(/0+$/, ''), dp: a.d.slice(0, nd).replace(/0+$/, '') ? a.dp : 0 };
  let i = nd - 1;
  while (i >= 0 && a.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: a.dp + 1 };
  return { d: a.d.slice(0, i) + String.fromCharCode(a.d.charCodeAt(i) + 1), dp: a.dp };
}

function fmtE(d: Decimal, prec: number, e: string): string {
  let s = d.d.length ? d.d[0] : '0';
  if (prec > 0) s += '.' + d.d.slice(1, prec + 1).padEnd(prec, '0');
  const exp = d.d.length === 0 ? 0 : d.dp - 1;
  return `${s}${e}${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function fmtF(d: Decimal, prec: number): string {
  let s = d.dp > 0 ? d.d.slice(0, d.dp).padEnd(d.dp, '0') : '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = d.dp + i - 1;
      s += j >= 0 && j < d.d.length ? d.d[j] : '0';
    }
  }
  return s;
}

/** strconv.FormatFloat(x, verb, prec, 64) for verbs e E f F g G; prec -1 is shortest. */
export function formatFloat(x: number, verb: string, prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const shortest = prec < 0;
  let d = shortest ? shortestDecimal(Math.abs(x)) : exactDecimal(Math.abs(x));
  const lower = verb.toLowerCase();
  if (shortest) prec = lower === 'e' ? Math.max(d.d.length - 1, 0) : lower === 'f' ? Math.max(d.d.length - d.dp, 0) : d.d.length;
  else if (lower === 'e') d = round(d, prec + 1);
  else if (lower === 'f') d = round(d, d.dp + prec);
  else {
    if (prec === 0) prec = 1;
    d = round(d, prec);
  }
  let s: string;
  if (lower === 'e') s = fmtE(d, prec, verb === 'E' ? 'E' : 'e');
  else if (lower === 'f') s = fmtF(d, prec);
  else {
    let eprec = prec;
    if (eprec > d.d.length && d.d.length >= d.dp) eprec = d.d.length;
    if (shortest) eprec = 6;
    const exp = d.dp - 1;
    if (exp < -4 || exp >= eprec) s = fmtE(d, Math.min(prec, d.d.length) - 1, verb === 'G' ? 'E' : 'e');
    else s = fmtF(d, Math.max((prec > d.dp ? d.d.length : prec) - d.dp, 0));
  }
  return (neg ? '-' : '') + s;
}

// ---- strconv.Quote ---------------------------------------------------------------

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

function quoteRune(cp: number, quote: number, ascii: boolean): string {
  const ch = String.fromCodePoint(cp);
  if (cp === quote || cp === 92) return '\\' + ch;
  if (cp >= 0x20 && cp < 0x7f) return ch;
  if (cp >= 0x80 && !ascii && PRINTABLE.test(ch)) return ch;
  const esc: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
  if (esc[cp]) return esc[cp];
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

export function quote(s: string, ascii = false): string {
  let out = '"';
  for (const ch of s) out += quoteRune(ch.codePointAt(0)!, 34, ascii);
  return out + '"';
}

// ---- the printer -----------------------------------------------------------------

class Printer {
  buf = '';
  f: Flags = clearFlags();

  pad(s: string): void {
    const f = this.f;
    if (!f.widPresent || f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = f.wid - runeCount(s);
    if (width <= 0) this.buf += s;
    else if (f.minus) this.buf += s + ' '.repeat(width);
    else this.buf += (f.zero ? '0' : ' ').repeat(width) + s;
  }

  badVerb(verb: string, arg: unknown): void {
    this.buf += `%!${verb}(`;
    const k = kindOf(arg);
    if (k === 'nil' || k === 'invalid') this.buf += '<nil>';
    else {
      this.buf += typeName(arg) + '=';
      this.printArg(arg, 'v');
    }
    this.buf += ')';
  }

  printArg(arg: unknown, verb: string, depth = 0): void {
    const k = kindOf(arg);
    if (k === 'stub') return;
    if (k === 'nil' || k === 'invalid') {
      if (depth > 0) this.buf += this.f.sharpV ? 'interface {}(nil)' : '<nil>';
      else if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === 'T' && depth === 0) return this.pad(typeName(arg));
    switch (k) {
      case 'bool':
        if (verb === 't' || verb === 'v') this.pad(String(arg));
        else this.badVerb(verb, arg);
        return;
      case 'int': return this.fmtInteger(BigInt(arg as number), verb, arg);
      case 'float': return this.fmtFloat(num(arg), verb, arg);
      case 'string': return this.fmtString(arg as string, verb, arg);
      case 'func':
        if (verb === 'v' || verb === 'p') this.pad('0xc000000000');
        else this.badVerb(verb, arg);
        return;
      case 'slice': {
        const a = arg as unknown[];
        this.buf += this.f.sharpV ? '[]interface {}{' : '[';
        a.forEach((e, i) => {
          if (i > 0) this.buf += this.f.sharpV ? ', ' : ' ';
          this.printArg(e, verb, depth + 1);
        });
        this.buf += this.f.sharpV ? '}' : ']';
        return;
      }
      case 'map': {
        const o = arg as Record<string, unknown>;
        this.buf += this.f.sharpV ? 'map[string]interface {}{' : 'map[';
        sortedKeys(o).forEach((key, i) => {
          if (i > 0) this.buf += this.f.sharpV ? ', ' : ' ';
          this.printArg(key, verb, depth + 1);
          this.buf += ':';
          this.printArg(o[key], verb, depth + 1);
        });
        this.buf += this.f.sharpV ? '}' : ']';
        return;
      }
    }
  }

  fmtInteger(v: bigint, verb: string, arg: unknown): void {
    const f = this.f;
    const bases: Record<string, number> = { v: 10, d: 10, b: 2, o: 8, O: 8, x: 16, X: 16 };
    if (verb === 'c') return this.pad(v < 0n || v > 0x10ffffn ? '\ufffd' : String.fromCodePoint(Number(v)));
    if (verb === 'q') return this.pad("'" + quoteRune(v < 0n || v > 0x10ffffn ? 0xfffd : Number(v), 39, f.plus) + "'");
    if (verb === 'U') {
      let s = 'U+' + (v < 0n ? (v & 0xffffffffffffffffn) : v).toString(16).toUpperCase().padStart(f.precPresent && f.prec > 4 ? f.prec : 4, '0');
      if (f.sharp && v >= 0n && v <= 0x10ffffn && PRINTABLE.test(String.fromCodePoint(Number(v)))) s += ` '${String.fromCodePoint(Number(v))}'`;
      const zero = f.zero;
      f.zero = false;
      this.pad(s);
      f.zero = zero;
      return;
    }
    const base = bases[verb];
    if (!base) return this.badVerb(verb, arg);
    const negative = v < 0n;
    let digits = (negative ? -v : v).toString(base);
    if (verb === 'X') digits = digits.toUpperCase();
    let prec = 0;
    if (f.precPresent) {
      prec = f.prec;
      if (prec === 0 && v === 0n) {
        const zero = f.zero;
        f.zero = false;
        this.pad('');
        f.zero = zero;
        return;
      }
    } else if (f.zero && !f.minus && f.widPresent) {
      prec = f.wid;
      if (negative || f.plus || f.space) prec--;
    }
    digits = digits.padStart(prec, '0');
    if (f.sharp) {
      if (base === 2) digits = '0b' + digits;
      else if (base === 8 && digits[0] !== '0') digits = '0' + digits;
      else if (base === 16) digits = (verb === 'X' ? '0X' : '0x') + digits;
    }
    if (verb === 'O') digits = '0o' + digits;
    const sign = negative ? '-' : f.plus ? '+' : f.space ? ' ' : '';
    const zero = f.zero;
    f.zero = false;
    this.pad(sign + digits);
    f.zero = zero;
  }

  fmtFloat(v: number, verb: string, arg: unknown): void {
    const f = this.f;
    let prec: number;
    let conv = verb;
    if (verb === 'v') [conv, prec] = ['g', -1];
    else if ('gGbxX'.includes(verb)) prec = -1;
    else if ('feEF'.includes(verb)) prec = 6;
    else return this.badVerb(verb, arg);
    if (conv === 'F') conv = 'f';
    if ('bxX'.includes(conv)) conv = 'g';
    if (f.precPresent) prec = f.prec;
    let n = formatFloat(v, conv, prec);
    if (n[0] !== '-' && n[0] !== '+') n = '+' + n;
    if (f.space && n[0] === '+' && !f.plus) n = ' ' + n.slice(1);
    if (n[1] === 'I' || n[1] === 'N') {
      const zero = f.zero;
      f.zero = false;
      if (n[1] === 'N' && !f.space && !f.plus) n = n.slice(1);
      this.pad(n);
      f.zero = zero;
      return;
    }
    if (f.plus || n[0] !== '+') {
      if (f.zero && !f.minus && f.widPresent && f.wid > n.length) {
        this.buf += n[0] + '0'.repeat(f.wid - n.length) + n.slice(1);
        return;
      }
      return this.pad(n);
    }
    this.pad(n.slice(1));
  }

  fmtString(s: string, verb: string, arg: unknown): void {
    const f = this.f;
    const truncate = (x: string) => (f.precPresent ? [...x].slice(0, f.prec).join('') : x);
    switch (verb) {
      case 'v':
        if (f.sharpV) return this.pad(quote(s));
        return this.pad(truncate(s));
      case 's': return this.pad(truncate(s));
      case 'x': case 'X': {
        let bytes = [...Buffer.from(s, 'utf8')];
        if (f.precPresent) bytes = bytes.slice(0, f.prec);
        const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).map((h) => (verb === 'X' ? h.toUpperCase() : h));
        const prefix = f.sharp ? (verb === 'X' ? '0X' : '0x') : '';
        return this.pad(f.space ? hex.map((h) => prefix + h).join(' ') : prefix + hex.join(''));
      }
      case 'q': {
        const t = truncate(s);
        if (f.sharp && !/[`\x00-\x08\x0a-\x1f\x7f\ufeff]/.test(t)) return this.pad('`' + t + '`');
        return this.pad(quote(t, f.plus));
      }
      default: this.badVerb(verb, arg);
    }
  }
}

/** fmt.Sprint: a space between operands when neither is a string. */
export function sprint(args: unknown[]): string {
  const p = new Printer();
  let prevString = false;
  args.forEach((a, i) => {
    const isString = typeof a === 'string';
    if (i > 0 && !isString && !prevString) p.buf += ' ';
    p.printArg(a, 'v');
    prevString = isString;
  });
  return p.buf;
}

/** fmt.Sprintln: always a space between operands, and a newline. */
export function sprintln(args: unknown[]): string {
  const p = new Printer();
  args.forEach((a, i) => {
    if (i > 0) p.buf += ' ';
    p.printArg(a, 'v');
  });
  return p.buf + '\n';
}

function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  let i = start;
  let n = 0;
  while (i < end && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
    n = n * 10 + s.charCodeAt(i) - 48;
    if (n > 1e6) return [0, false, end];
    i++;
  }
  return [n, i > start, i];
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: unknown[]): string {
  const p = new Printer();
  const end = format.length;
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;
  const argNumber = (i: number): [number, boolean] => {
    if (i >= end || format[i] !== '[') return [i, false];
    reordered = true;
    const close = format.indexOf(']', i + 1);
    if (end - i < 3 || close < 0) {
      goodArgNum = false;
      return [i + 1, false];
    }
    const [n, ok, ni] = parsenum(format, i + 1, close);
    if (!ok || ni !== close) {
      goodArgNum = false;
      return [close + 1, false];
    }
    if (n - 1 >= 0 && n - 1 < args.length) {
      argNum = n - 1;
      return [close + 1, true];
    }
    goodArgNum = false;
    return [close + 1, true];
  };
  const intFromArg = (): [number, boolean] => {
    if (argNum >= args.length) return [0, false];
    const a = args[argNum++];
    if (kindOf(a) !== 'int' || Math.abs(a as number) > 1e6) return [0, false];
    return [a as number, true];
  };
  let i = 0;
  while (i < end) {
    goodArgNum = true;
    const last = i;
    while (i < end && format[i] !== '%') i++;
    if (i > last) p.buf += format.slice(last, i);
    if (i >= end) break;
    i++;
    const f = (p.f = clearFlags());
    let simple = false;
    for (; i < end; i++) {
      const c = format[i];
      if (c === '#') f.sharp = true;
      else if (c === '0') f.zero = !f.minus;
      else if (c === '+') f.plus = true;
      else if (c === '-') [f.minus, f.zero] = [true, false];
      else if (c === ' ') f.space = true;
      else {
        if (c >= 'a' && c <= 'z' && argNum < args.length) {
          if (c === 'v') [f.sharpV, f.sharp, f.plusV, f.plus] = [f.sharp, false, f.plus, false];
          p.printArg(args[argNum++], c);
          i++;
          simple = true;
        }
        break;
      }
    }
    if (simple) continue;
    [i, afterIndex] = argNumber(i);
    if (i < end && format[i] === '*') {
      i++;
      [f.wid, f.widPresent] = intFromArg();
      if (!f.widPresent) p.buf += '%!(BADWIDTH)';
      if (f.wid < 0) [f.wid, f.minus, f.zero] = [-f.wid, true, false];
      afterIndex = false;
    } else {
      [f.wid, f.widPresent, i] = parsenum(format, i, end);
      if (afterIndex && f.widPresent) goodArgNum = false;
    }
    if (i + 1 < end && format[i] === '.') {
      i++;
      if (afterIndex) goodArgNum = false;
      [i, afterIndex] = argNumber(i);
      if (i < end && format[i] === '*') {
        i++;
        [f.prec, f.precPresent] = intFromArg();
        if (f.prec < 0) [f.prec, f.precPresent] = [0, false];
        if (!f.precPresent) p.buf += '%!(BADPREC)';
        afterIndex = false;
      } else {
        [f.prec, f.precPresent, i] = parsenum(format, i, end);
        if (!f.precPresent) [f.prec, f.precPresent] = [0, true];
      }
    }
    if (!afterIndex) [i, afterIndex] = argNumber(i);
    if (i >= end) {
      p.buf += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') p.buf += '%';
    else if (!goodArgNum) p.buf += `%!${verb}(BADINDEX)`;
    else if (argNum >= args.length) p.buf += `%!${verb}(MISSING)`;
    else {
      if (verb === 'v') [f.sharpV, f.sharp, f.plusV, f.plus] = [f.sharp, false, f.plus, false];
      p.printArg(args[argNum++], verb);
    }
  }
  if (!reordered && argNum < args.length) {
    p.f = clearFlags();
    p.buf += '%!(EXTRA ';
    args.slice(argNum).forEach((a, n) => {
      if (n > 0) p.buf += ', ';
      const k = kindOf(a);
      if (k === 'nil' || k === 'invalid') p.buf += '<nil>';
      else {
        p.buf += typeName(a) + '=';
        p.printArg(a, 'v');
      }
    });
    p.buf += ')';
  }
  return p.buf;
}

