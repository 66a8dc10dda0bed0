/**
 * Go RE2 regular expressions on JavaScript's engine, for regexMatch and
 * regexReplaceAll: RE2 syntax is translated to an equivalent `u`-mode RegExp, and what
 * has no safe equivalent is an error (as is what RE2 itself rejects: backreferences,
 * lookaround). Replacement follows Go's ReplaceAllString ($1, ${1}, $name, ${name},
 * $$; "$1x" names group "1x"; no empty match right after a match). Pure.
 */
const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F', digit: '0-9',
  graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ', upper: 'A-Z',
  word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};
const GO_SPACE = '\\t\\n\\f\\r ';
const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));
const CATEGORIES = new Set(['L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'S', 'Sm', 'Sc', 'Sk', 'So', 'Z', 'Zs', 'Zl', 'Zp', 'C', 'Cc', 'Cf', 'Co', 'Cs']);

/** A literal character as a u-mode escape-safe piece. */
function literal(ch: string, inClass: boolean): string {
  if (/[0-9A-Za-z_\s]/.test(ch) || ch.codePointAt(0)! > 0x7e) return ch;
  if (SYNTAX.has(ch) || (inClass && ch === '-')) return `\\${ch}`;
  return ch;
}

/** Translate one RE2 pattern; `fail` builds the error for an unsupported construct. */
export function compileGoRegexp(re: string, fail: (why: string) => Error): RegExp {
  let flags = 'u';
  let i = 0;
  const lead = /^\(\?([imsU]+)\)/.exec(re);
  if (lead) {
    if (lead[1].includes('U')) throw fail('the ungreedy flag (?U) is not supported');
    for (const f of new Set(lead[1])) flags += f;
    i = lead[0].length;
  }
  let out = '';
  let inClass = false;
  let classStart = false; // just after "[" or "[^": a "]" here is a literal
  const chars = [...re.slice(i)];
  for (let k = 0; k < chars.length; k++) {
    const ch = chars[k];
    const rest = () => chars.slice(k).join('');
    if (ch === '\\') {
      const e = chars[++k];
      if (e === undefined) throw fail('trailing backslash');
      if (e === 'Q') {
        const end = rest().indexOf('\\E');
        const text = end < 0 ? chars.slice(k + 1).join('') : rest().slice(1, end);
        out += [...text].map((c) => literal(c, inClass)).join('');
        k = end < 0 ? chars.length : k + end + 1;
      } else if (e === 'A' || e === 'z') {
        if (inClass) throw fail(`\\${e} inside a character class`);
        out += e === 'A' ? '(?<![\\s\\S])' : '(?![\\s\\S])';
      } else if (e === 's' || e === 'S') {
        out += inClass ? (e === 's' ? GO_SPACE : '\\S') : e === 's' ? `[${GO_SPACE}]` : `[^${GO_SPACE}]`;
      } else if ('dDwWbBtnrfv'.includes(e)) {
        out += `\\${e}`;
      } else if (e === 'a') {
        out += '\\x07';
      } else if (e === 'p' || e === 'P') {
        let name = chars[k + 1];
        if (name === '{') {
          const close = rest().indexOf('}');
          if (close < 0) throw fail('unterminated \\p{');
          name = rest().slice(2, close);
          k += close;
        } else {
          k++;
        }
        if (!name) throw fail('empty \\p');
        const neg = name.startsWith('^');
        const n = neg ? name.slice(1) : name;
        const prop = CATEGORIES.has(n) ? n : n === 'Any' ? 'Any' : `Script=${n}`;
        out += `\\${(e === 'P') !== neg ? 'P' : 'p'}{${prop}}`;
      } else if (e === 'x') {
        if (chars[k + 1] === '{') {
          const close = rest().indexOf('}');
          out += `\\u{${rest().slice(2, close)}}`;
          k += close;
        } else {
          out += `\\x${chars[k + 1] ?? ''}${chars[k + 2] ?? ''}`;
          k += 2;
        }
      } else if (/[0-9A-Za-z]/.test(e)) {
        throw fail(`invalid escape sequence \\${e}`);
      } else {
        out += literal(e, inClass);
      }
      classStart = false;
      continue;
    }
    if (inClass) {
      if (ch === ']' && !classStart) {
        inClass = false;
        out += ']';
      } else if (ch === '[' && chars[k + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(rest());
        if (!m || !(m[2] in POSIX)) throw fail(`unknown character class ${rest().slice(0, 10)}`);
        if (m[1]) throw fail(`negated class [:^${m[2]}:] is not supported`);
        out += POSIX[m[2]];
        k += m[0].length - 1;
      } else {
        out += ch === ']' ? '\\]' : ch; // a "]" right after "[" is a literal in RE2
      }
      classStart = false;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      classStart = true;
      out += '[';
      if (chars[k + 1] === '^') {
        out += '^';
        k++;
      }
    } else if (ch === '(' && chars[k + 1] === '?') {
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest());
      if (named) {
        out += `(?<${named[1]}>`;
        k += named[0].length - 1;
      } else if (chars[k + 2] === ':') {
        out += '(?:';
        k += 2;
      } else {
        throw fail(`unsupported group syntax ${rest().slice(0, 4)} (only a leading (?ims) flag group is supported)`);
      }
    } else if (ch === '{') {
      const rep = /^\{\d+(,\d*)?\}/.exec(rest());
      if (rep) {
        out += rep[0];
        k += rep[0].length - 1;
      } else {
        out += '\\{';
      }
    } else if (ch === '}') {
      out += '\\}';
    } else {
      out += ch;
    }
  }
  if (inClass) throw fail('missing closing ]');
  try {
    return new RegExp(out, flags);
  } catch (e) {
    throw fail((e as Error).message);
  }
}

/** Go's Regexp.Expand of `template` for one match. */
function expand(template: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < template.length; ) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) return out + template.slice(i);
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(template.slice(i));
    if (!ref) {
      out += '$';
      continue;
    }
    const name = ref[1] ?? ref[2];
    i += ref[0].length;
    const num = /^(0|[1-9]\d{0,7})$/.test(name) ? Number(name) : -1;
    out += (num >= 0 ? m[num] : m.groups?.[name]) ?? '';
  }
  return out;
}

/** Go's ReplaceAllString. */
export function goReplaceAll(re: RegExp, src: string, template: string): string {
  const g = new RegExp(re.source, re.flags + 'g');
  let out = '';
  let lastEnd = 0;
  let pos = 0;
  while (pos <= src.length) {
    g.lastIndex = pos;
    const m = g.exec(src);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastEnd, start);
    if (end > lastEnd || start === 0) out += expand(template, m);
    lastEnd = end;
    const width = (src.codePointAt(pos) ?? 0) > 0xffff ? 2 : 1;
    pos = pos + width > end ? pos + width : end;
  }
  return out + src.slice(lastEnd);
}
