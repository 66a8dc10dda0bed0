/**
 * Go text/template's evaluator (text/template/exec.go and funcs.go) over JS values
 * (see value.ts for how they stand for Go values). Runtime stubs are inert: a field of a
 * stub is a stub, it prints as "", ranges over nothing, is false, compares unequal, and a
 * function that fails because one of its arguments is a stub returns a stub.
 */
import { CertrenderError } from '../../errors.js';
import { isStub, STUB } from '../runtime.js';
import { sprint, sprintf, sprintln } from './fmt.js';
import type { Arg, Command, ControlNode, Node, ParsedTemplate, Pipe } from './parser.js';
import { GoFloat, kindOf, NO_VALUE, num, sortedKeys, typeName } from './value.js';

/** Limits that keep a hostile or mistaken template from hanging the process. */
const MAX_TEMPLATE_DEPTH = 200;
const MAX_RANGE_ITERATIONS = 100_000;

/** No final (piped) value. */
const MISSING: unique symbol = Symbol('missing');
const BREAK = { loop: 'break' };
const CONTINUE = { loop: 'continue' };

type ArgMode = 'value' | 'iface' | 'string';

interface Builtin {
  /** Fixed parameters; with `variadic`, the minimum. */
  fixed: number;
  variadic: boolean;
  modes: (i: number) => ArgMode;
  /** `texts` are the argument nodes as written, for `call`'s errors. */
  fn: (args: unknown[], texts: string[]) => unknown;
}

export interface ExecOptions {
  tmpl: ParsedTemplate;
  name: string;
  funcs: Record<string, unknown>;
  errorOnMissingKey: boolean;
  dot: unknown;
}

class ExecFailure extends Error {}

export function execute(opts: ExecOptions): string {
  const { tmpl, name, funcs } = opts;
  let out = '';
  let vars: { name: string; value: unknown }[] = [{ name: '$', value: opts.dot }];
  let depth = 0;
  let iterations = 0;

  const fail = (pos: number, msg: string, cause?: unknown): never => {
    const w = tmpl.where(pos);
    const code = cause instanceof CertrenderError ? cause.code : 'CR_TEMPLATE_RENDER';
    throw new CertrenderError(code, `${name}:${w.line}:${w.col}: ${msg}`, {
      hint: cause instanceof CertrenderError ? cause.hint : 'check the data the template reads',
      cause,
      context: { template: name, line: w.line, column: w.col },
    });
  };

  const builtins = makeBuiltins({
    executeTemplate(tname: unknown, data: unknown[]) {
      if (isStub(tname)) return STUB;
      if (data.length > 1) throw new ExecFailure(`executeTemplate: wrong number of arguments, expected 1 or 2, got ${data.length + 1}`);
      const body = tmpl.defines.get(String(tname));
      if (!body) throw new ExecFailure(`template: no template ${JSON.stringify(tname)} associated with template ${JSON.stringify(name)}`);
      const saved = { out, vars };
      out = '';
      const dot = data.length && data[0] !== null ? data[0] : NO_VALUE;
      vars = [{ name: '$', value: dot }];
      if (++depth > MAX_TEMPLATE_DEPTH) throw new ExecFailure(`exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
      try {
        walkList(dot, body);
        return out;
      } finally {
        depth--;
        ({ out, vars } = saved);
      }
    },
  });

  function walkList(dot: unknown, list: Node[]): void {
    for (const n of list) walk(dot, n);
  }

  function walk(dot: unknown, node: Node): void {
    switch (node.k) {
      case 'text':
        out += node.text;
        return;
      case 'action': {
        const v = evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) out += printable(node.pos, v);
        return;
      }
      case 'if':
      case 'with': {
        const mark = vars.length;
        const v = evalPipeline(dot, node.pipe);
        if (isTrue(v)) walkList(node.k === 'with' ? v : dot, node.list);
        else if (node.elseList) walkList(dot, node.elseList);
        vars.length = mark;
        return;
      }
      case 'range':
        return walkRange(dot, node);
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      case 'template': {
        const body = tmpl.defines.get(node.name);
        if (!body) fail(node.pos, `template ${JSON.stringify(node.name)} not defined`);
        if (depth >= MAX_TEMPLATE_DEPTH) fail(node.pos, `exceeded maximum template depth (${MAX_TEMPLATE_DEPTH})`);
        const v = node.pipe ? evalPipeline(dot, node.pipe) : NO_VALUE;
        const saved = vars;
        vars = [{ name: '$', value: v }];
        depth++;
        try {
          walkList(v, body!);
        } finally {
          depth--;
          vars = saved;
        }
      }
    }
  }

  function walkRange(dot: unknown, node: ControlNode): void {
    const outer = vars.length;
    const val = evalPipeline(dot, node.pipe);
    const mark = vars.length;
    const decl = node.pipe.decl;
    const one = (key: unknown, elem: unknown): boolean => {
      if (++iterations > MAX_RANGE_ITERATIONS) fail(node.pos, `range: more than ${MAX_RANGE_ITERATIONS} iterations`);
      if (decl.length > 0) {
        if (node.pipe.isAssign) {
          if (decl.length > 1) {
            setVar(node.pos, decl[0], key);
            setVar(node.pos, decl[1], elem);
          } else setVar(node.pos, decl[0], elem);
        } else {
          vars[mark - 1].value = elem;
          if (decl.length > 1) vars[mark - 2].value = key;
        }
      }
      try {
        walkList(elem, node.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        vars.length = mark;
      }
      return true;
    };
    let ran = false;
    switch (kindOf(val)) {
      case 'slice':
        for (let i = 0; i < (val as unknown[]).length; i++) {
          ran = true;
          if (!one(i, (val as unknown[])[i])) break;
        }
        break;
      case 'map':
        for (const k of sortedKeys(val as object)) {
          ran = true;
          if (!one(k, (val as Record<string, unknown>)[k])) break;
        }
        break;
      case 'int':
        if (decl.length > 1) fail(node.pos, `can't use ${sprint([val])} to iterate over more than one variable`);
        for (let i = 0; i < (val as number); i++) {
          ran = true;
          if (!one(undefined, i)) break;
        }
        break;
      case 'invalid':
      case 'nil':
      case 'stub':
        break;
      default:
        fail(node.pipe.pos, `range can't iterate over ${sprint([val])}`);
    }
    if (!ran && node.elseList) walkList(dot, node.elseList);
    vars.length = outer;
  }

  function setVar(pos: number, varName: string, value: unknown): void {
    for (let i = vars.length - 1; i >= 0; i--) {
      if (vars[i].name === varName) {
        vars[i].value = value;
        return;
      }
    }
    fail(pos, `undefined variable: ${varName}`);
  }

  function varValue(pos: number, varName: string): unknown {
    for (let i = vars.length - 1; i >= 0; i--) if (vars[i].name === varName) return vars[i].value;
    return fail(pos, `undefined variable: ${varName}`);
  }

  function evalPipeline(dot: unknown, pipe: Pipe): unknown {
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = evalCommand(dot, cmd, value);
      if (value === null || value === undefined) value = NO_VALUE;
    }
    for (const d of pipe.decl) {
      if (pipe.isAssign) setVar(pipe.cmds[pipe.cmds.length - 1].pos, d, value);
      else vars.push({ name: d, value });
    }
    return value;
  }

  function notAFunction(args: Arg[], final: unknown): void {
    if (args.length > 1 || final !== MISSING) fail(args[0].pos, `can't give argument to non-function ${nodeText(args[0])}`);
  }

  function evalCommand(dot: unknown, cmd: Command, final: unknown): unknown {
    const first = cmd.args[0];
    switch (first.k) {
      case 'field': return evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain': return evalFieldChain(dot, evalArg(dot, first.node, 'value'), first, first.idents, cmd.args, final);
      case 'identifier': return evalFunction(dot, first, cmd.args, final);
      case 'pipe':
        notAFunction(cmd.args, final);
        return evalPipeline(dot, first.pipe);
      case 'variable': {
        const v = varValue(first.pos, first.name);
        if (first.idents.length === 0) {
          notAFunction(cmd.args, final);
          return v;
        }
        return evalFieldChain(dot, v, first, first.idents, cmd.args, final);
      }
    }
    notAFunction(cmd.args, final);
    if (first.k === 'nil') return fail(first.pos, 'nil is not a command');
    return first.k === 'dot' ? dot : (first as { value: unknown }).value;
  }

  function evalFieldChain(dot: unknown, receiver: unknown, node: Arg, idents: string[], args: Arg[], final: unknown): unknown {
    for (let i = 0; i < idents.length - 1; i++) receiver = evalField(dot, idents[i], node, [], MISSING, receiver, i > 0);
    return evalField(dot, idents[idents.length - 1], node, args, final, receiver, idents.length > 1);
  }

  function evalField(dot: unknown, field: string, node: Arg, args: Arg[], final: unknown, receiver: unknown, fromField: boolean): unknown {
    const k = kindOf(receiver);
    if (k === 'stub') return STUB;
    if (k === 'invalid') {
      if (opts.errorOnMissingKey) fail(node.pos, `nil data; no entry for key ${JSON.stringify(field)}`);
      return NO_VALUE;
    }
    const type = fromField ? 'interface {}' : typeName(receiver);
    if (k === 'nil') return fail(node.pos, `nil pointer evaluating interface {}.${field}`);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (k === 'map') {
      const o = receiver as Record<string, unknown>;
      const v = Object.prototype.hasOwnProperty.call(o, field) ? o[field] : field in Object.prototype ? undefined : o[field];
      if (typeof v === 'function') return callFunction({ dot, name: field, fn: (a) => (v as (...x: unknown[]) => unknown).apply(o, a), args: args.slice(1), final, pos: node.pos });
      if (hasArgs) fail(node.pos, `${field} is not a method but has arguments`);
      if (v === undefined) {
        if (opts.errorOnMissingKey) fail(node.pos, `map has no entry for key ${JSON.stringify(field)}`);
        return NO_VALUE;
      }
      return v;
    }
    return fail(node.pos, `can't evaluate field ${field} in type ${type}`);
  }

  function evalFunction(dot: unknown, node: Extract<Arg, { k: 'identifier' }>, args: Arg[], final: unknown): unknown {
    // As in Go, a template's own functions shadow the builtins (a denied executeTemplate).
    const b = Object.prototype.hasOwnProperty.call(funcs, node.name) ? undefined : builtins[node.name];
    if (b) return callBuiltin({ dot, name: node.name, b, args: args.slice(1), final, pos: node.pos });
    const fn = funcs[node.name];
    if (typeof fn !== 'function') return fail(node.pos, `${JSON.stringify(node.name)} is not a defined function`);
    return callFunction({ dot, name: node.name, fn: fn as (a: unknown[]) => unknown, args: args.slice(1), final, pos: node.pos, spread: true });
  }

  /** A runtime function or a method: any number of interface{} arguments. */
  function callFunction(c: { dot: unknown; name: string; fn: (a: unknown[]) => unknown; args: Arg[]; final: unknown; pos: number; spread?: boolean }): unknown {
    const argv = c.args.map((a) => toJs(evalArg(c.dot, a, 'iface')));
    if (c.final !== MISSING) argv.push(toJs(c.final === NO_VALUE ? null : c.final));
    return guarded(c.pos, c.name, argv, () => (c.spread ? (c.fn as (...a: unknown[]) => unknown)(...argv) : c.fn(argv)));
  }

  function callBuiltin(c: { dot: unknown; name: string; b: Builtin; args: Arg[]; final: unknown; pos: number }): unknown {
    const { b, name } = c;
    const numIn = c.args.length + (c.final === MISSING ? 0 : 1);
    if (b.variadic ? numIn < b.fixed : numIn !== b.fixed) {
      fail(c.pos, b.variadic ? `wrong number of args for ${name}: want at least ${b.fixed} got ${c.args.length}` : `wrong number of args for ${name}: want ${b.fixed} got ${numIn}`);
    }
    if (name === 'and' || name === 'or') {
      let v: unknown = NO_VALUE;
      for (const a of c.args) {
        v = evalArg(c.dot, a, 'value');
        if (isTrue(v) === (name === 'or')) return v;
      }
      return c.final === MISSING ? v : c.final;
    }
    const argv = c.args.map((a, i) => evalArg(c.dot, a, b.modes(i)));
    if (c.final !== MISSING) argv.push(b.modes(argv.length) === 'iface' && c.final === NO_VALUE ? null : c.final);
    const texts = c.args.map(nodeText);
    return guarded(c.pos, name, argv, () => b.fn(argv, texts));
  }

  /** Run a function; its failure is "error calling NAME: ...", or a stub when a stub argument caused it. */
  function guarded(pos: number, fname: string, argv: unknown[], run: () => unknown): unknown {
    try {
      return run();
    } catch (e) {
      if (e instanceof CertrenderError && /^.+:\d+:\d+: /.test(e.message) && e.context?.template === name) throw e;
      if (argv.some((a) => isStub(a))) return STUB;
      const msg = e instanceof Error ? e.message : String(e);
      return fail(pos, `error calling ${fname}: ${msg}`, e);
    }
  }

  function evalArg(dot: unknown, a: Arg, mode: ArgMode): unknown {
    let v: unknown;
    switch (a.k) {
      case 'dot': v = dot; break;
      case 'nil':
        if (mode === 'string') fail(a.pos, 'cannot assign nil to string');
        return mode === 'iface' ? null : NO_VALUE;
      case 'field': v = evalFieldChain(dot, dot, a, a.idents, [a], MISSING); break;
      case 'variable': v = a.idents.length ? evalFieldChain(dot, varValue(a.pos, a.name), a, a.idents, [a], MISSING) : varValue(a.pos, a.name); break;
      case 'pipe': v = evalPipeline(dot, a.pipe); break;
      case 'identifier': v = evalFunction(dot, a, [a], MISSING); break;
      case 'chain': v = evalFieldChain(dot, evalArg(dot, a.node, 'value'), a, a.idents, [a], MISSING); break;
      case 'const':
        if (mode === 'string' && typeof a.value !== 'string') fail(a.pos, `expected string; found ${a.text}`);
        return a.value;
    }
    if (mode === 'string' && typeof v !== 'string' && !isStub(v)) {
      fail(a.pos, kindOf(v) === 'invalid' || v === null ? 'invalid value; expected string' : `wrong type for value; expected string; got ${typeName(v)}`);
    }
    if (mode === 'iface' && (v === NO_VALUE || v === undefined)) return null;
    return v;
  }

  function printable(pos: number, v: unknown): string {
    const k = kindOf(v);
    if (k === 'invalid' || k === 'nil') return '<no value>';
    if (k === 'func') fail(pos, `can't print ${sprint([v])} of type ${typeName(v)}`);
    return sprint([v]);
  }

  try {
    walkList(opts.dot, tmpl.root);
  } catch (e) {
    if (e instanceof RangeError) throw new CertrenderError('CR_TEMPLATE_RENDER', `${name}: template nesting too deep`, { cause: e, context: { template: name } });
    throw e;
  }
  return out;
}

/** GoFloat is internal to the engine: functions from the runtime get plain numbers. */
function toJs(v: unknown): unknown {
  return v instanceof GoFloat ? v.f : v;
}

function nodeText(a: Arg): string {
  switch (a.k) {
    case 'field': return '.' + a.idents.join('.');
    case 'variable': return [a.name, ...a.idents].join('.');
    case 'identifier': return a.name;
    case 'chain': return `${nodeText(a.node)}.${a.idents.join('.')}`;
    case 'pipe': return `(${a.pipe.cmds.map((c) => c.args.map(nodeText).join(' ')).join(' | ')})`;
    case 'dot': return '.';
    case 'nil': return 'nil';
    case 'const': return typeof a.value === 'string' ? JSON.stringify(a.value) : a.text;
  }
}

export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'bool': return v as boolean;
    case 'int': case 'float': return num(v) !== 0;
    case 'string': case 'slice': return (v as string | unknown[]).length > 0;
    case 'map': return Object.keys(v as object).length > 0;
    case 'func': return true;
    default: return false;
  }
}

// ---- builtins (text/template/funcs.go) ---------------------------------------------

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'invalid';

function basicKind(v: unknown): [BasicKind, boolean] {
  const k = kindOf(v);
  if (k === 'bool' || k === 'int' || k === 'float' || k === 'string') return [k, true];
  return ['invalid', false];
}

const fail = (msg: string): never => {
  throw new ExecFailure(msg);
};

function goLess(a: string, b: string): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;
}

function eq(args: unknown[]): boolean {
  const [a1, ...rest] = args;
  if (rest.length === 0) fail('missing argument for comparison');
  if (args.some(isStub)) return false;
  const [k1] = basicKind(a1);
  for (const a of rest) {
    const [k2] = basicKind(a);
    const valid1 = kindOf(a1) !== 'invalid' && a1 !== null;
    const valid2 = kindOf(a) !== 'invalid' && a !== null;
    let truth = false;
    if (k1 !== k2) {
      if (valid1 && valid2) fail(`incompatible types for comparison: ${typeName(a1)} and ${typeName(a)}`);
    } else if (k1 === 'int' || k1 === 'float') truth = num(a1) === num(a);
    else if (k1 !== 'invalid') truth = a1 === a;
    else {
      for (const [x, other] of [[a, a1], [a1, a]]) {
        const kx = kindOf(x);
        if (kx === 'slice' || kx === 'map' || kx === 'func') {
          if (kindOf(other) !== 'invalid' && other !== null && kindOf(other) !== kx) fail(`non-comparable types ${sprintf('%s', [a1])}: ${typeName(a1)}, ${typeName(a)}: ${sprintf('%v', [a])}`);
          if (valid1 && valid2) fail(`non-comparable type ${sprintf('%s', [a])}: ${typeName(a)}`);
        }
      }
      truth = valid1 === valid2;
    }
    if (truth) return true;
  }
  return false;
}

function lt(a1: unknown, a2: unknown): boolean {
  const [k1, ok1] = basicKind(a1);
  if (!ok1) fail('invalid type for comparison');
  const [k2, ok2] = basicKind(a2);
  if (!ok2) fail('invalid type for comparison');
  if (k1 !== k2) fail(`incompatible types for comparison: ${typeName(a1)} and ${typeName(a2)}`);
  if (k1 === 'bool') fail('invalid type for comparison');
  return k1 === 'string' ? goLess(a1 as string, a2 as string) : num(a1) < num(a2);
}

const compare = (f: (a: unknown, b: unknown) => boolean) => (args: unknown[]) => (args.some(isStub) ? false : f(args[0], args[1]));

function indexArg(index: unknown, cap: number): number {
  const k = kindOf(index);
  if (k === 'invalid' || k === 'nil') fail('cannot index slice/array with nil');
  if (k !== 'int') fail(`cannot index slice/array with type ${typeName(index)}`);
  const x = index as number;
  if (x < 0 || x > cap) fail(`index out of range: ${x}`);
  return x;
}

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);
const byteLength = (s: string) => (isAscii(s) ? s.length : Buffer.byteLength(s));

function index([item, ...indexes]: unknown[]): unknown {
  if (isStub(item)) return STUB;
  if (kindOf(item) === 'invalid' || item === null) fail('index of untyped nil');
  for (const ix of indexes) {
    const k = kindOf(item);
    if (k === 'stub') return STUB;
    if (k === 'nil') fail('index of nil pointer');
    if (k === 'slice' || k === 'string') {
      const len = k === 'slice' ? (item as unknown[]).length : byteLength(item as string);
      const x = indexArg(ix, len);
      if (x === len) fail(`reflect: ${k} index out of range`);
      item = k === 'slice' ? (item as unknown[])[x] : Buffer.from(item as string)[x];
    } else if (k === 'map') {
      const kx = kindOf(ix);
      if (kx === 'invalid' || kx === 'nil') fail('value is nil; should be of type string');
      if (kx !== 'string') fail(`value has type ${typeName(ix)}; should be string`);
      const o = item as Record<string, unknown>;
      item = Object.prototype.hasOwnProperty.call(o, ix as string) ? o[ix as string] : null;
    } else fail(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

function slice([item, ...indexes]: unknown[]): unknown {
  if (isStub(item)) return STUB;
  const k = kindOf(item);
  if (k === 'invalid' || k === 'nil') fail('slice of untyped nil');
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  if (k === 'string' && indexes.length === 3) fail('cannot 3-index slice a string');
  if (k !== 'string' && k !== 'slice') fail(`can't slice item of type ${typeName(item)}`);
  const len = k === 'string' ? byteLength(item as string) : (item as unknown[]).length;
  const idx = [0, len, len];
  indexes.forEach((ix, i) => (idx[i] = indexArg(ix, len)));
  if (idx[0] > idx[1]) fail(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) fail(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (k === 'slice') return (item as unknown[]).slice(idx[0], idx[1]);
  const s = item as string;
  return isAscii(s) ? s.slice(idx[0], idx[1]) : Buffer.from(s).subarray(idx[0], idx[1]).toString('utf8');
}

function length([item]: unknown[]): number {
  const k = kindOf(item);
  if (k === 'stub') return 0;
  if (k === 'invalid' || k === 'nil') fail('reflect: call of reflect.Value.Type on zero Value');
  if (k === 'string') return byteLength(item as string);
  if (k === 'slice') return (item as unknown[]).length;
  if (k === 'map') return Object.keys(item as object).length;
  return fail(`len of type ${typeName(item)}`);
}

/** The argument text of html/js/urlquery: one string as is, else fmt.Sprint. */
const evalArgs = (args: unknown[]) => (args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args));

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\ufffd', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const simple: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D' };
    if (simple[ch]) out += simple[ch];
    else if (c < 0x20) out += '\\u00' + c.toString(16).toUpperCase().padStart(2, '0');
    else if (c < 0x80 || /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u.test(ch)) out += ch;
    else out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function call([fn, ...args]: unknown[], fnText: string): unknown {
  if (isStub(fn)) return STUB;
  const k = kindOf(fn);
  if (k === 'invalid' || k === 'nil') fail('call of nil');
  if (k !== 'func') fail(`non-function ${fnText} of type ${typeName(fn)}`);
  return (fn as (...a: unknown[]) => unknown)(...args.map((a) => toJs(a === NO_VALUE ? null : a)));
}

function makeBuiltins(extra: { executeTemplate: (name: unknown, data: unknown[]) => unknown }): Record<string, Builtin> {
  const value = () => 'value' as const;
  const iface = () => 'iface' as const;
  const fixed = (n: number, fn: Builtin['fn']): Builtin => ({ fixed: n, variadic: false, modes: value, fn });
  const atLeast = (n: number, fn: Builtin['fn'], modes: (i: number) => ArgMode = value): Builtin => ({ fixed: n, variadic: true, modes, fn });
  const stringFirst = (i: number): ArgMode => (i === 0 ? 'string' : 'iface');
  return {
    and: atLeast(1, () => undefined),
    or: atLeast(1, () => undefined),
    not: fixed(1, ([a]) => !isTrue(a)),
    len: fixed(1, length),
    index: atLeast(1, index),
    slice: atLeast(1, slice),
    eq: atLeast(1, eq),
    ne: fixed(2, (a) => (a.some(isStub) ? false : !eq(a))),
    lt: fixed(2, compare(lt)),
    le: fixed(2, compare((a, b) => lt(a, b) || eq([a, b]))),
    gt: fixed(2, compare((a, b) => !(lt(a, b) || eq([a, b])))),
    ge: fixed(2, compare((a, b) => !lt(a, b))),
    print: atLeast(0, sprint, iface),
    println: atLeast(0, sprintln, iface),
    printf: atLeast(1, ([f, ...a]) => (isStub(f) ? '' : sprintf(f as string, a)), stringFirst),
    html: atLeast(0, (a) => htmlEscape(evalArgs(a)), iface),
    js: atLeast(0, (a) => jsEscape(evalArgs(a)), iface),
    urlquery: atLeast(0, (a) => queryEscape(evalArgs(a)), iface),
    call: atLeast(1, (a, texts) => call(a, texts[0] ?? 'value'), (i) => (i === 0 ? 'value' : 'iface')),
    executeTemplate: atLeast(1, ([n, ...d]) => extra.executeTemplate(n, d), stringFirst),
  };
}

export const BUILTIN_NAMES: readonly string[] = ['and', 'or', 'not', 'len', 'index', 'slice', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'print', 'println', 'printf', 'html', 'js', 'urlquery', 'call', 'executeTemplate'];
