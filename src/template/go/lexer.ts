/**
 * Go text/template's lexer, hand-written over char codes in one pass. It follows
 * text/template/parse/lex.go: trim markers need the space (`{{- ` and ` -}}`) and eat
 * every adjacent space, tab, CR and newline; comments are `/* *\/` right inside the
 * delimiters; an identifier must be followed by a terminator.
 */
import { CertrenderError } from '../../errors.js';

export type TokenType =
  | 'text' | 'left' | 'right' | 'space' | 'assign' | 'declare' | 'pipe' | 'char' | 'lparen' | 'rparen'
  | 'string' | 'rawString' | 'charConst' | 'number' | 'bool' | 'nil' | 'dot' | 'field' | 'variable'
  | 'identifier' | 'keyword' | 'eof';

export interface Token {
  type: TokenType;
  val: string;
  pos: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);

/** Maps offsets to 1-based line:col. */
export function positionFinder(text: string): (pos: number) => { line: number; col: number } {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (pos) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: pos - starts[lo] + 1 };
  };
}

export function syntaxError(name: string, where: { line: number; col: number }, message: string): CertrenderError {
  return new CertrenderError('CR_TEMPLATE_SYNTAX', `${name}:${where.line}:${where.col}: ${message}`, {
    hint: 'fix the template syntax (Go text/template)',
    context: { template: name, line: where.line, column: where.col },
  });
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 13 || c === 10;
const isDigit = (c: number) => c >= 48 && c <= 57;
function isAlphaNumeric(c: number): boolean {
  if (c === 95 || isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true;
  return c > 127 && /[\p{L}\p{Nd}]/u.test(String.fromCharCode(c));
}

export interface LexOptions {
  text: string;
  name: string;
  left: string;
  right: string;
}

export function lex({ text, name, left, right }: LexOptions): Token[] {
  const tokens: Token[] = [];
  const where = positionFinder(text);
  const n = text.length;
  let pos = 0;
  let parenDepth = 0;
  const fail = (at: number, msg: string): never => {
    throw syntaxError(name, where(at), msg);
  };
  const emit = (type: TokenType, start: number) => tokens.push({ type, val: text.slice(start, pos), pos: start });
  const leftTrim = (at: number) => text.charCodeAt(at) === 45 && isSpace(text.charCodeAt(at + 1));
  const rightTrimAt = (at: number) => isSpace(text.charCodeAt(at)) && text.charCodeAt(at + 1) === 45 && text.startsWith(right, at + 2);
  /** At a right delimiter: 0 no, 1 plain, 2 with trim marker. */
  const atRight = (at: number) => (rightTrimAt(at) ? 2 : text.startsWith(right, at) ? 1 : 0);
  const skipSpaces = () => {
    while (pos < n && isSpace(text.charCodeAt(pos))) pos++;
  };
  const closeAction = (trim: boolean) => {
    if (trim) pos += 2;
    pos += right.length;
    if (trim) skipSpaces();
  };
  const atTerminator = () => {
    const c = text.charCodeAt(pos);
    if (pos >= n || isSpace(c) || c === 46 || c === 44 || c === 124 || c === 58 || c === 41 || c === 40) return true;
    return text.startsWith(right, pos);
  };
  const charName = (at: number) => {
    const cp = text.codePointAt(at) ?? 0;
    return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(cp)}'`;
  };

  while (pos < n) {
    // Text up to the next left delimiter.
    const x = text.indexOf(left, pos);
    const end = x < 0 ? n : x;
    if (end > pos) {
      let stop = end;
      if (x >= 0 && leftTrim(x + left.length)) while (stop > pos && isSpace(text.charCodeAt(stop - 1))) stop--;
      if (stop > pos) tokens.push({ type: 'text', val: text.slice(pos, stop), pos });
    }
    if (x < 0) break;
    pos = x + left.length;
    const trimmed = leftTrim(pos);
    if (text.startsWith('/*', pos + (trimmed ? 2 : 0))) {
      const start = x;
      pos += (trimmed ? 2 : 0) + 2;
      const close = text.indexOf('*/', pos);
      if (close < 0) fail(start, 'unclosed comment');
      pos = close + 2;
      const r = atRight(pos);
      if (!r) fail(start, 'comment ends before closing delimiter');
      closeAction(r === 2);
      continue;
    }
    tokens.push({ type: 'left', val: left, pos: x });
    if (trimmed) pos += 2;
    parenDepth = 0;
    // Inside the action.
    for (;;) {
      const r = atRight(pos);
      if (r) {
        if (parenDepth > 0) fail(pos, 'unclosed left paren');
        tokens.push({ type: 'right', val: right, pos });
        closeAction(r === 2);
        break;
      }
      if (pos >= n) fail(pos, 'unclosed action');
      const start = pos;
      const c = text.charCodeAt(pos++);
      if (isSpace(c)) {
        let count = 1;
        while (pos < n && isSpace(text.charCodeAt(pos))) pos++, count++;
        if (rightTrimAt(pos - 1)) {
          pos--;
          if (count === 1) continue;
        }
        emit('space', start);
      } else if (c === 61) emit('assign', start);
      else if (c === 58) {
        if (text.charCodeAt(pos++) !== 61) fail(start, 'expected :=');
        emit('declare', start);
      } else if (c === 124) emit('pipe', start);
      else if (c === 34 || c === 39) {
        for (;;) {
          const d = pos < n ? text.charCodeAt(pos++) : -1;
          if (d === 92) {
            const e = pos < n ? text.charCodeAt(pos++) : -1;
            if (e !== -1 && e !== 10) continue;
          }
          if (d === 92 || d === -1 || d === 10) fail(start, c === 34 ? 'unterminated quoted string' : 'unterminated character constant');
          if (d === c) break;
        }
        emit(c === 34 ? 'string' : 'charConst', start);
      } else if (c === 96) {
        const close = text.indexOf('`', pos);
        if (close < 0) fail(start, 'unterminated raw quoted string');
        pos = close + 1;
        emit('rawString', start);
      } else if (c === 36 || (c === 46 && !isDigit(text.charCodeAt(pos)))) {
        // $var or .Field (the sigil is consumed).
        if (atTerminator()) {
          emit(c === 36 ? 'variable' : 'dot', start);
          continue;
        }
        while (pos < n && isAlphaNumeric(text.charCodeAt(pos))) pos++;
        if (!atTerminator()) fail(pos, `bad character ${charName(pos)}`);
        emit(c === 36 ? 'variable' : 'field', start);
      } else if (c === 43 || c === 45 || c === 46 || isDigit(c)) {
        pos--;
        if (!scanNumber()) fail(start, `bad number syntax: ${JSON.stringify(text.slice(start, pos))}`);
        emit('number', start);
      } else if (isAlphaNumeric(c)) {
        while (pos < n && isAlphaNumeric(text.charCodeAt(pos))) pos++;
        if (!atTerminator()) fail(pos, `bad character ${charName(pos)}`);
        const word = text.slice(start, pos);
        emit(KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier', start);
      } else if (c === 40) {
        emit('lparen', start);
        parenDepth++;
      } else if (c === 41) {
        emit('rparen', start);
        if (--parenDepth < 0) fail(start, 'unexpected right paren');
      } else if (c < 128 && c >= 32) emit('char', start);
      else fail(start, `unrecognized character in action: ${charName(start)}`);
    }
  }
  tokens.push({ type: 'eof', val: '', pos: n });
  return tokens;

  function accept(chars: string): boolean {
    if (pos < n && chars.includes(text[pos])) {
      pos++;
      return true;
    }
    return false;
  }
  function acceptRun(chars: string): void {
    while (pos < n && chars.includes(text[pos])) pos++;
  }
  function scanNumber(): boolean {
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (pos < n && isAlphaNumeric(text.charCodeAt(pos))) {
      pos++;
      return false;
    }
    return true;
  }
}
