/**
 * Translates a Go text/template (the consul-template dialect) into a readable nunjucks
 * template that renders the same bytes against the same runtime. Pure.
 *
 * Go and nunjucks disagree on what is true (an empty list or map is false in Go), on
 * how a value prints (`<no value>`, `[a b]`, `map[k:v]`), on map order (Go sorts the
 * keys) and on where the piped value goes (last argument in Go). The translator knows
 * the shapes consul-template functions return (a PKI issuance's `.Data.certificate` is
 * a string, `.Data.ca_chain` a list) and emits plain nunjucks for them; a value of
 * unknown shape goes through `truthy`/`show` forms that apply Go's rules. A construct
 * it cannot express faithfully makes the result `ok: false` with a positioned warning:
 * the caller keeps the Go template.
 */
import { REFUSED_FUNCTIONS, TEMPLATE_FUNCTIONS } from '../function-names.js';
import { BUILTIN_NAMES } from './exec.js';
import type { Arg, Command, ControlNode, Node, Pipe } from './parser.js';
import { parse } from './parser.js';
import { GoFloat } from './value.js';

export interface TranslateOptions {
  text: string;
  /** Used in warnings: `name:line:col`. */
  name: string;
  leftDelimiter?: string;
  rightDelimiter?: string;
  /**
   * The nunjucks variable that stands for Go's root data (`.` at the top). consul-template
   * renders with no data, so by default a field of the root data is not translated.
   */
  dot?: string;
}

export interface TranslateResult {
  /** True when `text` renders byte-identical to the Go template (no warnings). */
  ok: boolean;
  /** The nunjucks template; when not ok, a draft whose untranslated parts are TODO comments. */
  text: string;
  /** Why it is not ok, or the Go syntax error, each with `name:line:col`. */
  warnings: string[];
}

type Kind = 'string' | 'int' | 'float' | 'bool' | 'list' | 'map' | 'object' | 'unknown';

interface Shape {
  kind: Kind;
  fields?: Record<string, Shape>;
  elem?: Shape;
}

interface Expr {
  code: string;
  shape: Shape;
  /** No operator at the top: safe as an operand or filter input. */
  atomic: boolean;
  /** A Go truth (and/or over lists or maps): right in a condition, not the value Go would print. */
  condOnly?: boolean;
}

const S = (kind: Kind, more: Omit<Shape, 'kind'> = {}): Shape => ({ kind, ...more });
const UNKNOWN = S('unknown');
const STRING = S('string');
const STRINGS = S('list', { elem: STRING });

const FUNCTION_KINDS: Record<string, Shape> = {
  ...Object.fromEntries(
    ['base64Encode', 'base64Decode', 'base64URLEncode', 'base64URLDecode', 'toJSON', 'toJSONPretty', 'trimSpace', 'trim', 'trimPrefix', 'trimSuffix', 'join', 'replaceAll',
      'toLower', 'toUpper', 'toTitle', 'indent', 'sha256Hex', 'md5sum', 'hmacSHA256Hex', 'regexReplaceAll', 'env', 'mustEnv', 'file', 'timestamp', 'writeToFile'].map((n) => [n, STRING]),
  ),
  ...Object.fromEntries(['contains', 'in', 'containsAll', 'containsAny', 'containsNone', 'containsNotAll', 'regexMatch', 'parseBool'].map((n) => [n, S('bool')])),
  split: STRINGS,
  secrets: STRINGS,
  loop: S('list', { elem: S('int') }),
  parseInt: S('int'),
  parseUint: S('int'),
};

const ISSUE_PATH = /^\/?(?:v1\/)?(.+?)\/(?:issuer\/[^/]+\/)?(issue|sign)\/[^/]+$/;

/** What `secret PATH ARGS...` returns, as far as the call tells. */
function secretShape(path: unknown, nArgs: number): Shape {
  let data: Shape = S('map');
  const m = typeof path === 'string' && nArgs > 0 ? ISSUE_PATH.exec(path) : null;
  if (m) {
    const fields: Record<string, Shape> = { certificate: STRING, issuing_ca: STRING, ca_chain: STRINGS, serial_number: STRING, private_key_type: STRING, expiration: S('int') };
    if (m[2] === 'issue') fields.private_key = STRING;
    data = S('map', { fields });
  }
  return S('object', { fields: { Data: data, LeaseID: STRING, LeaseDuration: S('int'), Renewable: S('bool'), Warnings: STRINGS } });
}

const PKI_FIELDS = { Cert: STRING, Key: STRING, CA: STRING, CAChain: STRINGS };
const PKI_SHAPE = S('object', { fields: { ...PKI_FIELDS, Data: S('object', { fields: PKI_FIELDS }) } });

/** Names a translated variable may not take: nunjucks words, runtime functions, helpers. */
const RESERVED = new Set([
  'and', 'or', 'not', 'in', 'is', 'if', 'else', 'elif', 'endif', 'for', 'endfor', 'set', 'true', 'false', 'none', 'null', 'True', 'False', 'None',
  'loop', 'range', 'caller', 'show', 'truthy', 'raw', 'macro', 'import', 'include', 'extends', 'block', 'super',
  ...TEMPLATE_FUNCTIONS, 'scratch',
]);

const SHOW_MACRO =
  '{% macro show(v, top=true) %}' +
  '{%- if v is undefined or v is none %}{{ "<no value>" if top else "<nil>" }}' +
  '{%- elif v is mapping %}map[{% for k, x in v | dictsort(true) %}{{ " " if not loop.first }}{{ k }}:{{ show(x, false) }}{% endfor %}]' +
  '{%- elif v is string %}{{ v }}' +
  '{%- elif v is iterable %}[{% for x in v %}{{ " " if not loop.first }}{{ show(x, false) }}{% endfor %}]' +
  '{%- else %}{{ v }}{% endif %}{% endmacro %}';

class Untranslatable extends Error {
  constructor(readonly pos: number, message: string) {
    super(message);
  }
}

export function translateGoTemplate(opts: TranslateOptions): TranslateResult {
  let tmpl;
  try {
    tmpl = parse({
      text: opts.text,
      name: opts.name,
      left: opts.leftDelimiter || '{{',
      right: opts.rightDelimiter || '}}',
      checkFunction: (n) =>
        BUILTIN_NAMES.includes(n) || TEMPLATE_FUNCTIONS.includes(n) ? undefined
        : Object.prototype.hasOwnProperty.call(REFUSED_FUNCTIONS, n) ? `function ${JSON.stringify(n)} is refused by certrender: ${REFUSED_FUNCTIONS[n]}`
        : `function ${JSON.stringify(n)} not defined`,
    });
  } catch (e) {
    return { ok: false, text: '', warnings: [(e as Error).message] };
  }
  const where = tmpl.where;
  const lines = opts.text.split('\n');
  const warnings: string[] = [];
  const fail = (pos: number, why: string): never => {
    throw new Untranslatable(pos, why);
  };

  const used = new Set<string>();
  let needShow = false;
  /** Go variable -> nunjucks variable, innermost scope last. */
  const scopes: Map<string, Expr>[] = [new Map()];
  /** The nunjucks expression for `.`; undefined: the (nil) root data. */
  type Dot = Expr | undefined;
  const root: Dot = opts.dot ? { code: opts.dot, shape: UNKNOWN, atomic: true } : undefined;

  const fresh = (base: string): string => {
    let name = base.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_') || 'v';
    if (RESERVED.has(name) || used.has(name)) {
      let n = 2;
      while (used.has(`${name}${n}`) || RESERVED.has(`${name}${n}`)) n++;
      name = `${name}${n}`;
    }
    used.add(name);
    return name;
  };
  const declare = (goName: string, shape: Shape = UNKNOWN): string => {
    const nj = fresh(goName.slice(1));
    scopes[scopes.length - 1].set(goName, { code: nj, shape, atomic: true });
    return nj;
  };
  const lookup = (pos: number, goName: string): Expr => {
    for (let i = scopes.length - 1; i >= 0; i--) {
      const v = scopes[i].get(goName);
      if (v) return v;
    }
    return fail(pos, `variable ${goName} is not in scope`);
  };
  const scoped = <T>(f: () => T): T => {
    scopes.push(new Map());
    try {
      return f();
    } finally {
      scopes.pop();
    }
  };

  const paren = (e: Expr) => (e.atomic ? e.code : `(${e.code})`);

  // ---- expressions ----------------------------------------------------------------------

  function literal(pos: number, v: unknown): Expr {
    if (typeof v === 'string') {
      if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(v)) fail(pos, 'a string literal with control characters');
      const body = v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r');
      return { code: `"${body}"`, shape: STRING, atomic: true };
    }
    if (typeof v === 'boolean') return { code: String(v), shape: S('bool'), atomic: true };
    if (v instanceof GoFloat) return { code: String(v.f), shape: S('float'), atomic: v.f >= 0 };
    if (typeof v === 'number') return { code: String(v), shape: S('int'), atomic: v >= 0 };
    return fail(pos, `a literal of type ${typeof v}`);
  }

  function member(base: Expr, idents: string[]): Expr {
    let code = paren(base);
    let shape = base.shape;
    for (const id of idents) {
      code += /^[A-Za-z_][A-Za-z0-9_]*$/.test(id) && !RESERVED.has(id) ? `.${id}` : `[${JSON.stringify(id)}]`;
      shape = shape.fields?.[id] ?? UNKNOWN;
    }
    return { code, shape, atomic: true };
  }

  function dotExpr(pos: number, dot: Dot): Expr {
    return dot ?? fail(pos, "the root data ('.' outside with/range), which consul-template leaves empty");
  }

  function arg(dot: Dot, a: Arg): Expr {
    switch (a.k) {
      case 'const': return literal(a.pos, a.value);
      case 'nil': return { code: 'none', shape: UNKNOWN, atomic: true };
      case 'dot': return dotExpr(a.pos, dot);
      case 'field': return member(dotExpr(a.pos, dot), a.idents);
      case 'variable': return member(variable(a.pos, a.name), a.idents);
      case 'chain': return member(arg(dot, a.node), a.idents);
      case 'identifier': return call(dot, a.name, a.pos, [], undefined);
      case 'pipe': return pipeline(dot, a.pipe);
    }
  }

  function variable(pos: number, name: string): Expr {
    if (name === '$') return dotExpr(pos, root);
    return lookup(pos, name);
  }

  function pipeline(dot: Dot, pipe: Pipe): Expr {
    if (pipe.decl.length) fail(pipe.pos, 'a variable declared inside an expression');
    let value: Expr | undefined;
    for (const c of pipe.cmds) value = command(dot, c, value);
    return value!;
  }

  function command(dot: Dot, cmd: Command, piped: Expr | undefined): Expr {
    const [first, ...rest] = cmd.args;
    if (first.k === 'identifier') return call(dot, first.name, first.pos, rest, piped);
    if (rest.length || piped) {
      // A method: `scratch.Set "k" v`, `$x.Method a`.
      const target = arg(dot, first);
      const args = [...rest.map((a) => arg(dot, a)), ...(piped ? [piped] : [])];
      return { code: `${target.code}(${args.map((a) => a.code).join(', ')})`, shape: UNKNOWN, atomic: true };
    }
    return arg(dot, first);
  }

  function call(dot: Dot, name: string, pos: number, rawArgs: Arg[], piped: Expr | undefined): Expr {
    const args = () => [...rawArgs.map((a) => arg(dot, a)), ...(piped ? [piped] : [])];
    const bool = (code: string): Expr => ({ code, shape: S('bool'), atomic: false });
    switch (name) {
      case 'and':
      case 'or': {
        const a = args();
        if (a.every((x) => ['string', 'int', 'bool'].includes(x.shape.kind))) {
          // nunjucks and/or are JS && / ||: they return the deciding value, and JS truth is Go's for these kinds.
          return { code: a.map(paren).join(` ${name} `), shape: a.every((x) => x.shape.kind === a[0].shape.kind) ? a[0].shape : UNKNOWN, atomic: false };
        }
        return { code: a.map((x) => `(${truth(x)})`).join(` ${name} `), shape: S('bool'), atomic: false, condOnly: true };
      }
      case 'not': return bool(`not (${truth(args()[0])})`);
      case 'eq': {
        const [x, ...ys] = args();
        // Loose equality: it differs from === only across types, where Go fails, and for nil vs a missing key, where Go is true too.
        const c = ys.map((y) => `${paren(x)} == ${paren(y)}`);
        return bool(c.length === 1 ? c[0] : c.map((s) => `(${s})`).join(' or '));
      }
      case 'ne': case 'lt': case 'le': case 'gt': case 'ge': {
        const [x, y] = args();
        if (x.shape.kind === 'unknown' && y.shape.kind === 'unknown' && name !== 'ne') fail(pos, `${name} between two values of unknown type (Go compares strings byte-wise, and refuses mixed types)`);
        const op = { ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' }[name];
        return bool(`${paren(x)} ${op} ${paren(y)}`);
      }
      case 'len': {
        const [x] = args();
        if (x.shape.kind !== 'list' && x.shape.kind !== 'map') fail(pos, 'len of a value that may be a string (Go counts bytes, nunjucks UTF-16 units)');
        return { code: `${paren(x)} | length`, shape: S('int'), atomic: false };
      }
      case 'index': {
        const [x, ...keys] = args();
        let e = x;
        for (const k of keys) {
          if (k.shape.kind !== 'string' && e.shape.kind !== 'list') fail(pos, 'index by number into a value that may be a string (Go gives a byte)');
          e = { code: `${paren(e)}[${k.code}]`, shape: e.shape.elem ?? UNKNOWN, atomic: true };
        }
        return e;
      }
      case 'secret': {
        const a = args();
        const p = rawArgs[0]?.k === 'const' ? rawArgs[0].value : undefined;
        return { code: `secret(${a.map((x) => x.code).join(', ')})`, shape: secretShape(p, a.length - 1), atomic: true };
      }
      case 'pkiCert': return { code: `pkiCert(${args().map((x) => x.code).join(', ')})`, shape: PKI_SHAPE, atomic: true };
    }
    if (BUILTIN_NAMES.includes(name) && !TEMPLATE_FUNCTIONS.includes(name)) {
      return fail(pos, `Go's ${name} has no nunjucks equivalent in certrender's runtime`);
    }
    if (name === 'scratch' && rawArgs.length === 0 && !piped) return { code: 'scratch', shape: UNKNOWN, atomic: true };
    if (name === 'envOrDefault') {
      const a = args();
      return { code: `envOrDefault(${a.map((x) => x.code).join(', ')})`, shape: a[1]?.shape.kind === 'string' ? STRING : UNKNOWN, atomic: true };
    }
    return { code: `${name}(${args().map((x) => x.code).join(', ')})`, shape: FUNCTION_KINDS[name] ?? UNKNOWN, atomic: true };
  }

  /** A nunjucks condition true exactly when Go's truth of e is. */
  function truth(e: Expr): string {
    switch (e.shape.kind) {
      case 'string': case 'int': case 'float': case 'bool': case 'object': return e.code;
      case 'list': case 'map': return `${paren(e)} | length`;
      default:
        if (!e.atomic) return e.code; // and/or over Go truths, comparisons
        return `${e.code} if ${e.code} is number or ${e.code} is sameas(true) else ${e.code} | length`;
    }
  }

  /** A value to print, Go's way. */
  function printed(pos: number, e: Expr): string {
    if (e.condOnly) fail(pos, 'and/or over values whose truth differs between Go and nunjucks, printed');
    switch (e.shape.kind) {
      case 'string': case 'int': case 'bool': return `{{ ${e.code} }}`;
      case 'float': return fail(pos, 'a float printed (Go formats floats its own way)');
      case 'list':
        if (e.shape.elem?.kind === 'string') return `{{ "[" ~ (${paren(e)} | join(" ")) ~ "]" }}`;
        break;
    }
    needShow = true;
    return `{{ show(${e.code}) }}`;
  }

  // ---- nodes ----------------------------------------------------------------------------

  /** Literal text; a `{{`, `{%` or `{#` in it is printed as a string. */
  function text(t: string): string {
    return t.replace(/\{([{%#])/g, '{{ "{$1" }}');
  }

  /** `{% set %}`s for a control's declarations, and the expression it tests. */
  function controlValue(dot: Dot, pipe: Pipe, base: string): { pre: string; value: Expr } {
    if (pipe.isAssign) fail(pipe.pos, 'an assignment (=) in an if/with/range clause');
    const value = pipeline(dot, { ...pipe, decl: [] });
    if (pipe.decl.length === 1) {
      const nj = declare(pipe.decl[0], value.shape);
      return { pre: `{% set ${nj} = ${value.code} %}`, value: { code: nj, shape: value.shape, atomic: true } };
    }
    if (value.atomic && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value.code)) return { pre: '', value };
    const nj = fresh(base);
    return { pre: `{% set ${nj} = ${value.code} %}`, value: { code: nj, shape: value.shape, atomic: true } };
  }

  /** Each node translated; one that cannot be becomes a TODO comment holding its source line. */
  function list(dot: Dot, nodes: Node[]): string {
    return nodes
      .map((n) => {
        try {
          return node(dot, n);
        } catch (e) {
          if (!(e instanceof Untranslatable)) throw e;
          const w = where(e.pos);
          warnings.push(`${opts.name}:${w.line}:${w.col}: cannot translate ${e.message}`);
          return `{# TODO (Go, line ${w.line}): ${lines[w.line - 1].trim().replace(/#\}/g, '# }')} #}`;
        }
      })
      .join('');
  }

  function node(dot: Dot, n: Node): string {
    switch (n.k) {
      case 'text': return text(n.text);
      case 'action': {
        const p = n.pipe;
        if (p.decl.length === 0) return printed(p.pos, pipeline(dot, p));
        const value = pipeline(dot, { ...p, decl: [] });
        if (!p.isAssign) return `{% set ${declare(p.decl[0], value.shape)} = ${value.code} %}`;
        const target = lookup(p.pos, p.decl[0]);
        target.shape = UNKNOWN; // it may now hold another kind of value
        return `{% set ${target.code} = ${value.code} %}`;
      }
      case 'if': return scoped(() => ifNode(dot, n));
      case 'with': return scoped(() => withNode(dot, n));
      case 'range': return scoped(() => rangeNode(dot, n));
      case 'template': return fail(n.pos, 'template/define/block (nunjucks macros differ in scope and data)');
      case 'break':
      case 'continue': return fail(n.pos, `{{${n.k}}} (nunjucks loops have no ${n.k})`);
    }
  }

  function ifNode(dot: Dot, n: ControlNode): string {
    const needsSet = n.pipe.decl.length > 0;
    const { pre, value } = needsSet ? controlValue(dot, n.pipe, 'c') : { pre: '', value: pipeline(dot, n.pipe) };
    let out = `${pre}{% if ${truth(value)} %}${scoped(() => list(dot, n.list))}`;
    let rest = n.elseList;
    // `else if` without declarations stays an elif.
    while (rest && rest.length === 1 && rest[0].k === 'if' && rest[0].pipe.decl.length === 0) {
      const e = rest[0] as ControlNode;
      out += `{% elif ${truth(pipeline(dot, e.pipe))} %}${scoped(() => list(dot, e.list))}`;
      rest = e.elseList;
    }
    if (rest) out += `{% else %}${scoped(() => list(dot, rest!))}`;
    return `${out}{% endif %}`;
  }

  function withNode(dot: Dot, n: ControlNode): string {
    const head = n.pipe.cmds[0]?.args[0];
    const base = head?.k === 'identifier' ? ({ secret: 's', pkiCert: 'cert' } as Record<string, string>)[head.name] ?? 'w' : 'w';
    const { pre, value } = controlValue(dot, n.pipe, base);
    const body = scoped(() => list(value, n.list));
    const otherwise = n.elseList ? `{% else %}${scoped(() => list(dot, n.elseList!))}` : '';
    return `${pre}{% if ${truth(value)} %}${body}${otherwise}{% endif %}`;
  }

  function rangeNode(dot: Dot, n: ControlNode): string {
    if (n.pipe.isAssign) fail(n.pipe.pos, 'an assignment (=) in a range clause');
    const over = pipeline(dot, { ...n.pipe, decl: [] });
    const [kGo, vGo] = n.pipe.decl.length === 2 ? n.pipe.decl : [undefined, n.pipe.decl[0]];
    const otherwise = () => (n.elseList ? `{% else %}${scoped(() => list(dot, n.elseList!))}` : '');
    const elemName = (shape: Shape) => (vGo ? declare(vGo, shape) : fresh(over.shape.kind === 'list' && over.shape.elem?.kind === 'string' ? 'item' : 'it'));
    const asList = (src: string) =>
      scoped(() => {
        const v = elemName(over.shape.elem ?? UNKNOWN);
        const k = kGo ? `{% set ${declare(kGo, S('int'))} = loop.index0 %}` : '';
        const body = list({ code: v, shape: over.shape.elem ?? UNKNOWN, atomic: true }, n.list);
        return `{% for ${v} in ${src} %}${k}${body}${otherwise()}{% endfor %}`;
      });
    const asMap = (src: string) =>
      scoped(() => {
        const k = kGo ? declare(kGo, STRING) : fresh('key');
        const v = elemName(UNKNOWN);
        const body = list({ code: v, shape: UNKNOWN, atomic: true }, n.list);
        return `{% for ${k}, ${v} in ${src} | dictsort(true) %}${body}${otherwise()}{% endfor %}`;
      });
    switch (over.shape.kind) {
      case 'list': return asList(over.code);
      case 'map': case 'object': return asMap(paren(over));
      case 'int':
        if (kGo) fail(n.pos, 'range over an integer with two variables');
        return asList(`range(${over.code})`);
      case 'unknown': {
        // Decided at render time: a map ranges in sorted key order, anything else as a list.
        const src = over.atomic && /^[A-Za-z_]\w*$/.test(over.code) ? { pre: '', code: over.code } : (() => {
          const nj = fresh('items');
          return { pre: `{% set ${nj} = ${over.code} %}`, code: nj };
        })();
        return `${src.pre}{% if ${src.code} is mapping %}${asMap(src.code)}{% else %}${asList(src.code)}{% endif %}`;
      }
      default: return fail(n.pos, `range over a ${over.shape.kind}`);
    }
  }

  const body = list(root, tmpl.root);
  const header = `{# ${opts.name}: translated from a Go template by certrender migrate #}`;
  const prelude = needShow ? `{# show(v) prints a value as Go does: <no value>, [a b], map[k:v] #}${SHOW_MACRO}` : '';
  return { ok: warnings.length === 0, text: `${header}${prelude}${body}`, warnings };
}
