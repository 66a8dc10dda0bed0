import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REFUSED_FUNCTIONS, TEMPLATE_FUNCTIONS } from './function-names.js';
import { formatGoTime } from './go-time-format.js';
import { library } from './library.js';
import { createRuntime, STUB, type FileWrite } from './runtime.js';
import { evalSockaddr } from './sockaddr.js';
import { callId, type VaultCall } from './vault-call.js';
import type { VaultResponse } from './vault-response.js';

/** Expected outputs rendered by consul-template itself: tools/functions-oracle/generate.mjs. */
type Call = [string, ...unknown[]];
interface Case {
  name: string;
  parts: ({ print: Call } | { range: Call })[];
  env: Record<string, string>;
  output?: string;
  error?: boolean;
}
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/functions/${name}`, import.meta.url), 'utf8'));
const CASES: Case[] = fixture('expected.json');

function runtime(opts: { env?: NodeJS.ProcessEnv; responses?: Record<string, VaultResponse>; now?: () => Date } = {}) {
  const calls: [VaultCall, boolean][] = [];
  const writes: FileWrite[] = [];
  const rt = createRuntime({
    resolver: { lookup: (c) => opts.responses?.[callId(c)] },
    onCall: (c, known) => calls.push([c, known]),
    onWrite: (w) => writes.push(w),
    baseDir: '/base',
    env: opts.env ?? {},
    now: opts.now,
  });
  return { rt, calls, writes };
}

/** Go's fmt %v for the values the functions return; `float` when Go's type is float64 (parseFloat). */
function goPrint(v: unknown, float = false): string {
  if (v === undefined || v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map((x) => goPrint(x)).join(' ')}]`;
  if (typeof v === 'number' && (float || !Number.isInteger(v))) {
    if (!Number.isFinite(v)) return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
    const [mant, exp] = v.toExponential().split('e');
    const e = Number(exp);
    if (e < -4 || e >= 6) return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    return String(v);
  }
  if (typeof v === 'object') return `map[${Object.keys(v).sort().map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  return String(v);
}

function evaluate(rt: Record<string, any>, [fn, ...args]: Call): unknown {
  const vals = args.map((a) => (a && typeof a === 'object' && 'call' in a ? evaluate(rt, (a as { call: Call }).call) : a));
  const [obj, method] = fn.split('.');
  const f = method ? rt[obj]()[method] : rt[fn];
  assert.type(f, 'function', `${fn} is served`);
  return f(...vals);
}

function renderCase(k: Case): string {
  const { rt } = runtime({ env: k.env });
  return k.parts
    .map((p) => ('range' in p ? (evaluate(rt, p.range) as unknown[]).map((x) => `${goPrint(x)},`).join('') : goPrint(evaluate(rt, p.print), p.print[0] === 'parseFloat')))
    .join('|');
}

test('the oracle fixture is big enough', () => {
  assert.ok(CASES.length >= 60, `${CASES.length} cases`);
});

for (const k of CASES) {
  test(`consul-template: ${k.name}`, () => {
    if (k.error) {
      try {
        renderCase(k);
      } catch (e) {
        assert.is((e as { code?: string }).code, 'CR_TEMPLATE_FUNCTION', String(e));
        return;
      }
      assert.unreachable('consul-template failed on this template; certrender must too');
    }
    assert.is(renderCase(k), k.output);
  });
}

const TIMES: { instant: string; layout: string; output: string }[] = fixture('timestamp.json');
test('timestamp: Go time.Format layouts on fixed instants (timestamp.go)', () => {
  assert.ok(TIMES.length > 50);
  for (const t of TIMES) {
    const d = new Date(t.instant);
    const nanos = Number((/\.(\d+)Z$/.exec(t.instant)?.[1] ?? '').padEnd(9, '0'));
    const out = t.layout === 'unix' || t.layout === '' ? runtime({ now: () => d }).rt.timestamp(...(t.layout ? [t.layout] : [])) : formatGoTime(d, t.layout, nanos);
    assert.is(out, t.output, `${t.instant} ${JSON.stringify(t.layout)}`);
  }
});

test('timestamp uses the injected clock', () => {
  const { rt } = runtime({ now: () => new Date('2024-02-09T07:05:03.250Z') });
  assert.is(rt.timestamp(), '2024-02-09T07:05:03Z');
  assert.is(rt.timestamp('2006-01-02 15:04:05.000 MST'), '2024-02-09 07:05:03.250 UTC');
  assert.throws(() => rt.timestamp('a', 'b'), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
});

test('writeToFile records the write and prints nothing', () => {
  const { rt, writes } = runtime();
  assert.is(rt.writeToFile('out/a.txt', 'svc', '', '0640', 'append,newline', 'data'), '');
  assert.is(rt.writeToFile('/abs/b', '', '', '600', 'x'), '');
  assert.equal(writes, [
    { path: '/base/out/a.txt', user: 'svc', group: '', mode: 0o640, flags: ['append', 'newline'], content: 'data' },
    { path: '/abs/b', user: '', group: '', mode: 0o600, flags: [], content: 'x' },
  ]);
  assert.throws(() => rt.writeToFile('/x', '', '', '0999', 'c'), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
  assert.throws(() => rt.writeToFile('/x', '', '', '0644'), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
  assert.is(rt.writeToFile('/x', '', '', '0644', STUB), '', 'discovery: unknown content is not recorded');
  assert.is(writes.length, 2);
});

test('secrets makes a LIST call and returns the sorted keys', () => {
  const list: VaultCall = { kind: 'list', path: 'kv/metadata/app', params: {} };
  const first = runtime();
  assert.is(first.rt.secrets('/v1/kv/metadata/app/'), STUB);
  assert.equal(first.calls, [[list, false]]);
  const second = runtime({ responses: { [callId(list)]: { data: { keys: ['b', 'a/', 'c'] } } } });
  assert.equal(second.rt.secrets('kv/metadata/app'), ['a/', 'b', 'c']);
  assert.equal(second.calls, [[list, true]]);
  assert.equal(second.rt.secrets(''), []);
});

test('scratch is per render, reachable as scratch.X and scratch().X', () => {
  const a = runtime().rt;
  a.scratch.Set('k', 'v');
  assert.is(a.scratch().Get('k'), 'v');
  assert.is(runtime().rt.scratch.Key('k'), false);
  assert.throws(() => a.scratch.MapSet('k', 'x', 1), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
});

test('env functions', () => {
  const { rt } = runtime({ env: { A: 'x', E: '' } });
  assert.is(rt.envOrDefault('E', 'd'), '');
  assert.is(rt.envOrDefault('Z', 'd'), 'd');
  assert.throws(() => rt.mustEnv('E'), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
});

test('sockaddr: supported expressions, anything else is an error naming it', () => {
  const addrs = {
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
    eth0: [{ address: '203.0.113.7', family: 'IPv4', internal: false }, { address: 'fe80::1', family: 'IPv6', internal: false }],
    eth1: [{ address: '10.1.2.3', family: 'IPv4', internal: false }, { address: '192.168.1.4', family: 'IPv4', internal: false }],
  } as never;
  assert.is(evalSockaddr('GetPrivateIP', addrs), '10.1.2.3');
  assert.is(evalSockaddr('GetPrivateIPs', addrs), '10.1.2.3 192.168.1.4');
  assert.is(evalSockaddr('GetPublicIP', addrs), '203.0.113.7');
  assert.is(evalSockaddr('GetInterfaceIP "eth1"', addrs), '10.1.2.3');
  assert.is(evalSockaddr('GetAllInterfaces | include "flags" "up"', addrs), undefined);
  assert.throws(() => runtime().rt.sockaddr('GetAllInterfaces'), /sockaddr: "GetAllInterfaces" is not supported/);
});

test('pure functions never throw on a STUB (discovery)', () => {
  for (const [name, fn] of Object.entries(library)) {
    assert.is((fn as (...a: unknown[]) => unknown)('x', STUB), STUB, name);
  }
});

test('regexes RE2 cannot express, or JS cannot translate safely, are errors', () => {
  for (const re of ['(?U)a+', 'a(?i:b)', '[[:^alpha:]]', '\\C', '(?<=a)b']) {
    assert.throws(() => library.regexMatch(re, 'x'), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION', re);
  }
});

test('math: int64 exactness beyond 2^53, division by zero', () => {
  assert.is(library.add(1, library.parseInt('9223372036854775806')), 9223372036854775807n);
  assert.is(library.add(1, 9223372036854775807n), -9223372036854775808n, 'wraps like int64');
  assert.throws(() => library.divide(0, 1), (e: { code: string }) => e.code === 'CR_TEMPLATE_FUNCTION');
  assert.is(library.divide(0, 1.5), Infinity);
});

test('every served function is named, and none is also refused', () => {
  const served = Object.keys(runtime().rt).sort();
  assert.equal([...TEMPLATE_FUNCTIONS].sort(), served);
  for (const name of ['key', 'keyExists', 'keyOrDefault', 'ls', 'safeLs', 'tree', 'safeTree', 'node', 'nodes', 'service', 'services', 'connect', 'caRoots', 'caLeaf', 'datacenters', 'partitions', 'peerings', 'exportedServices', 'nomadServices', 'nomadService', 'nomadVariables', 'nomadVariableItems', 'nomadVariableList', 'nomadVariableExists', 'explode', 'plugin']) {
    assert.type(REFUSED_FUNCTIONS[name], 'string', name);
  }
  assert.equal(served.filter((n) => n in REFUSED_FUNCTIONS), []);
});

test.run();
