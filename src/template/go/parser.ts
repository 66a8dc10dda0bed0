/**
 * Go text/template's parser (text/template/parse/parse.go), over the lexer's tokens.
 * Function names are checked here, so an unknown or refused function fails at load.
 */
import { lex, positionFinder, syntaxError, type Token } from './lexer.js';
import { GoFloat } from './value.js';

export type Arg =
  | { k: 'field'; pos: number; idents: string[] }
  | { k: 'variable'; pos: number; name: string; idents: string[] }
  | { k: 'identifier'; pos: number; name: string }
  | { k: 'chain'; pos: number; node: Arg; idents: string[] }
  | { k: 'pipe'; pos: number; pipe: Pipe }
  | { k: 'dot' | 'nil'; pos: number }
  | { k: 'const'; pos: number; value: unknown; text: string };

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export interface ControlNode {
  k: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

export type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { k: 'template'; pos: number; name: string; pipe?: Pipe }
  | { k: 'break' | 'continue'; pos: number };

export interface ParsedTemplate {
  root: Node[];
  defines: Map<string, Node[]>;
  where: (pos: number) => { line: number; col: number };
}

export interface ParseOptions {
  text: string;
  name: string;
  left: string;
  right: string;
  /** Why a function name is not accepted (undefined when it is). */
  checkFunction: (name: string) => string | undefined;
}

const MAX_DEPTH = 1000;

/** Go's item.String(), for "unexpected X in Y". */
function describe(t: Token): string {
  if (t.type === 'eof') return 'EOF';
  if (t.type === 'keyword') return `<${t.val}>`;
  const q = (s: string) => JSON.stringify(s);
  return [...t.val].length > 10 ? `${q([...t.val].slice(0, 10).join(''))}...` : q(t.val);
}

export function parse(opts: ParseOptions): ParsedTemplate {
  const tokens = lex(opts);
  const where = positionFinder(opts.text);
  const defines = new Map<string, Node[]>();
  let i = 0;
  let vars: string[] = ['$'];
  let rangeDepth = 0;
  let depth = 0;
  const fail = (pos: number, msg: string): never => {
    throw syntaxError(opts.name, where(pos), msg);
  };
  const next = () => tokens[Math.min(i++, tokens.length - 1)];
  const peek = () => tokens[Math.min(i, tokens.length - 1)];
  const nextNonSpace = () => {
    let t = next();
    while (t.type === 'space') t = next();
    return t;
  };
  const peekNonSpace = () => {
    const t = nextNonSpace();
    i--;
    return t;
  };
  const unexpected = (t: Token, context: string): never => fail(t.pos, `unexpected ${describe(t)} in ${context}`);
  const expect = (type: Token['type'], context: string) => {
    const t = nextNonSpace();
    if (t.type !== type) unexpected(t, context);
    return t;
  };
  const isKeyword = (t: Token, word: string) => t.type === 'keyword' && t.val === word;

  type End = { k: 'end' | 'else'; pos: number };
  const isEnd = (n: Node | End): n is End => n.k === 'end' || n.k === 'else';

  function itemList(): [Node[], End] {
    const list: Node[] = [];
    while (peekNonSpace().type !== 'eof') {
      const n = textOrAction();
      if (isEnd(n)) return [list, n];
      list.push(n);
    }
    return fail(peek().pos, 'unexpected EOF');
  }

  function textOrAction(): Node | End {
    const t = nextNonSpace();
    if (t.type === 'text') return { k: 'text', text: t.val };
    if (t.type === 'left') return action();
    return unexpected(t, 'input');
  }

  function action(): Node | End {
    const t = nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'block': return blockControl();
        case 'break':
        case 'continue': {
          const r = nextNonSpace();
          if (r.type !== 'right') unexpected(r, `{{${t.val}}}`);
          if (rangeDepth === 0) fail(t.pos, `{{${t.val}}} outside {{range}}`);
          return { k: t.val, pos: t.pos };
        }
        case 'else': {
          const p = peekNonSpace();
          if (isKeyword(p, 'if') || isKeyword(p, 'with')) return { k: 'else', pos: p.pos };
          return { k: 'else', pos: expect('right', 'else').pos };
        }
        case 'end': return { k: 'end', pos: expect('right', 'end').pos };
        case 'if':
        case 'with':
        case 'range': return control(t.val);
        case 'template': return templateControl();
        case 'define': return fail(t.pos, 'unexpected <define> in command');
      }
    }
    i--;
    return { k: 'action', pos: peek().pos, pipe: pipeline('command', 'right') };
  }

  function control(context: 'if' | 'with' | 'range'): Node {
    const mark = vars.length;
    const pipe = pipeline(context, 'right');
    if (context === 'range') rangeDepth++;
    const [list, end] = itemList();
    if (context === 'range') rangeDepth--;
    let elseList: Node[] | undefined;
    if (end.k === 'else') {
      const p = peekNonSpace();
      if (context !== 'range' && isKeyword(p, context)) {
        nextNonSpace();
        elseList = [control(context)];
      } else {
        let e: End;
        [elseList, e] = itemList();
        if (e.k !== 'end') fail(e.pos, 'expected end; found {{else}}');
      }
    }
    vars.length = mark;
    return { k: context, pos: pipe.pos, pipe, list, elseList };
  }

  function templateName(t: Token, context: string): string {
    if (t.type !== 'string' && t.type !== 'rawString') unexpected(t, context);
    return unquote(t);
  }

  function templateControl(): Node {
    const context = 'template clause';
    const t = nextNonSpace();
    const name = templateName(t, context);
    let pipe: Pipe | undefined;
    if (nextNonSpace().type !== 'right') {
      i--;
      pipe = pipeline(context, 'right');
    }
    return { k: 'template', pos: t.pos, name, pipe };
  }

  /** A define or block body: its own variable scope. */
  function definition(name: string, context: string): void {
    const [savedVars, savedRange] = [vars, rangeDepth];
    vars = ['$'];
    rangeDepth = 0;
    const [list, end] = itemList();
    if (end.k !== 'end') fail(end.pos, `unexpected {{else}} in ${context}`);
    [vars, rangeDepth] = [savedVars, savedRange];
    // Go keeps the first non-empty definition: an empty one never replaces it, a second non-empty one is an error.
    const isEmpty = (l: Node[]) => l.every((n) => n.k === 'text' && n.text.trim() === '');
    const existing = defines.get(name);
    if (existing && !isEmpty(existing) && !isEmpty(list)) fail(end.pos, `template: multiple definition of template ${JSON.stringify(name)}`);
    if (!existing || isEmpty(existing)) defines.set(name, list);
  }

  function blockControl(): Node {
    const context = 'block clause';
    const t = nextNonSpace();
    const name = templateName(t, context);
    const pipe = pipeline(context, 'right');
    definition(name, context);
    return { k: 'template', pos: t.pos, name, pipe };
  }

  function pipeline(context: string, end: 'right' | 'rparen'): Pipe {
    const pipe: Pipe = { pos: peekNonSpace().pos, decl: [], isAssign: false, cmds: [] };
    for (;;) {
      const v = peekNonSpace();
      if (v.type !== 'variable') break;
      const save = i;
      nextNonSpace();
      const after = peekNonSpace();
      if (after.type === 'assign' || after.type === 'declare') {
        pipe.isAssign = after.type === 'assign';
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
      } else if (after.type === 'char' && after.val === ',') {
        nextNonSpace();
        pipe.decl.push(v.val);
        vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = peekNonSpace().type;
          if (p === 'variable' || p === 'right' || p === 'rparen') continue;
          fail(after.pos, 'range can only initialize variables');
        }
        fail(after.pos, `too many declarations in ${context}`);
      } else i = save;
      break;
    }
    for (;;) {
      const t = nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) fail(t.pos, `missing value for ${context}`);
        pipe.cmds.forEach((c, n) => {
          const a = c.args[0];
          if (n > 0 && (a.k === 'const' || a.k === 'dot' || a.k === 'nil')) fail(c.pos, `non executable command in pipeline stage ${n + 1}`);
        });
        return pipe;
      }
      switch (t.type) {
        case 'bool': case 'charConst': case 'dot': case 'field': case 'identifier': case 'number':
        case 'nil': case 'rawString': case 'string': case 'variable': case 'lparen':
          i--;
          pipe.cmds.push(command());
          break;
        default:
          unexpected(t, context);
      }
    }
  }

  function command(): Command {
    const cmd: Command = { pos: peekNonSpace().pos, args: [] };
    for (;;) {
      peekNonSpace();
      const a = operand();
      if (a) cmd.args.push(a);
      const t = next();
      if (t.type === 'space') continue;
      if (t.type === 'right' || t.type === 'rparen') i--;
      else if (t.type !== 'pipe') unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) fail(cmd.pos, 'empty command');
    return cmd;
  }

  function operand(): Arg | undefined {
    const node = term();
    if (!node || peek().type !== 'field') return node;
    const pos = peek().pos;
    const idents: string[] = [];
    while (peek().type === 'field') idents.push(next().val.slice(1));
    switch (node.k) {
      case 'field': return { k: 'field', pos, idents: [...node.idents, ...idents] };
      case 'variable': return { k: 'variable', pos, name: node.name, idents: [...node.idents, ...idents] };
      case 'const': case 'nil': case 'dot': return fail(pos, `unexpected . after term ${JSON.stringify(node.k === 'const' ? node.text : node.k === 'nil' ? 'nil' : '.')}`);
      default: return { k: 'chain', pos, node, idents };
    }
  }

  function term(): Arg | undefined {
    const t = nextNonSpace();
    switch (t.type) {
      case 'identifier': {
        const why = opts.checkFunction(t.val);
        if (why) fail(t.pos, why);
        return { k: 'identifier', pos: t.pos, name: t.val };
      }
      case 'dot': return { k: 'dot', pos: t.pos };
      case 'nil': return { k: 'nil', pos: t.pos };
      case 'variable':
        if (!vars.includes(t.val)) fail(t.pos, `undefined variable ${JSON.stringify(t.val)}`);
        return { k: 'variable', pos: t.pos, name: t.val, idents: [] };
      case 'field': return { k: 'field', pos: t.pos, idents: [t.val.slice(1)] };
      case 'bool': return { k: 'const', pos: t.pos, value: t.val === 'true', text: t.val };
      case 'charConst': case 'number': return { k: 'const', pos: t.pos, value: number(t), text: t.val };
      case 'string': case 'rawString': return { k: 'const', pos: t.pos, value: unquote(t), text: t.val };
      case 'lparen': {
        if (++depth > MAX_DEPTH) fail(t.pos, 'max expression depth exceeded');
        const pipe = pipeline('parenthesized pipeline', 'rparen');
        depth--;
        return { k: 'pipe', pos: t.pos, pipe };
      }
    }
    i--;
    return undefined;
  }

  function number(t: Token): number | GoFloat {
    const s = t.val;
    if (t.type === 'charConst') {
      const v = unquoteText(s, t.pos);
      if ([...v].length !== 1) fail(t.pos, `malformed character constant: ${s}`);
      return v.codePointAt(0)!;
    }
    if (s.endsWith('i')) return fail(t.pos, `complex constants are not supported: ${s}`);
    const clean = s.replace(/_/g, '');
    const neg = clean.startsWith('-');
    const body = clean.replace(/^[+-]/, '');
    const isHex = /^0[xX]/.test(body);
    if (isHex ? !/[pP.]/.test(body) : !/[.eE]/.test(body)) {
      const m = /^(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9]\d*)$/.exec(body);
      if (!m || /__|[xXoObB]_|_$/.test(s) || /^[+-]?_/.test(s)) return fail(t.pos, `illegal number syntax: ${JSON.stringify(s)}`);
      const big = BigInt(/^0[0-7]/.test(body) ? `0o${body.slice(1)}` : body.replace(/^0([xXoObB])/, (_, p) => `0${p.toLowerCase()}`));
      const v = neg ? -big : big;
      if (big > 18446744073709551615n) fail(t.pos, `integer overflow: ${JSON.stringify(s)}`);
      if (v > 9223372036854775807n || v < -9223372036854775808n) fail(t.pos, `${s} overflows int`);
      return Number(v);
    }
    let f: number;
    if (isHex) {
      const m = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(body);
      if (!m || (m[1] + (m[2] ?? '')).length === 0) return fail(t.pos, `illegal number syntax: ${JSON.stringify(s)}`);
      const frac = m[2] ?? '';
      f = parseInt(m[1] + frac || '0', 16) * 2 ** (Number(m[3]) - 4 * frac.length);
    } else {
      if (!/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) return fail(t.pos, `illegal number syntax: ${JSON.stringify(s)}`);
      f = Number(body);
    }
    return new GoFloat(neg ? -f : f);
  }

  function unquote(t: Token): string {
    return t.type === 'rawString' ? t.val.slice(1, -1).replace(/\r/g, '') : unquoteText(t.val, t.pos);
  }

  function unquoteText(s: string, pos: number): string {
    const q = s[0];
    let out = '';
    for (let j = 1; j < s.length - 1; j++) {
      const c = s[j];
      if (c !== '\\') {
        if (c === q) fail(pos, 'invalid syntax');
        out += c;
        continue;
      }
      const e = s[++j];
      const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
      if (e in simple) out += simple[e];
      else if (e === q) out += q;
      else if (e === 'x' || e === 'u' || e === 'U') {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = s.slice(j + 1, j + 1 + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail(pos, 'invalid syntax');
        const v = parseInt(hex, 16);
        if (e !== 'x' && (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))) fail(pos, 'invalid syntax');
        out += e === 'x' ? Buffer.from([v]).toString('latin1') : String.fromCodePoint(v);
        j += len;
      } else if (e >= '0' && e <= '7') {
        const oct = s.slice(j, j + 3);
        if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) fail(pos, 'invalid syntax');
        out += String.fromCharCode(parseInt(oct, 8));
        j += 2;
      } else fail(pos, 'invalid syntax');
    }
    return out;
  }

  // Top level: text, actions and define blocks.
  const root: Node[] = [];
  while (peek().type !== 'eof') {
    if (peek().type === 'left') {
      const save = i;
      next();
      if (isKeyword(nextNonSpace(), 'define')) {
        const context = 'define clause';
        const nameTok = nextNonSpace();
        const name = templateName(nameTok, context);
        expect('right', context);
        definition(name, context);
        continue;
      }
      i = save;
    }
    const n = textOrAction();
    if (isEnd(n)) fail(n.pos, `unexpected {{${n.k}}}`);
    root.push(n as Node);
  }
  return { root, defines, where };
}
