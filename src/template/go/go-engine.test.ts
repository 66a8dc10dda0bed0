import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../../errors.js';
import { createRuntime, type TemplateRuntime } from '../runtime.js';
import { callId, type VaultCall } from '../vault-call.js';
import type { VaultResponse } from '../vault-response.js';
import { goEngine } from './go-engine.js';

interface Case { name: string; template: string; data: unknown; leftDelim?: string; rightDelim?: string; missingKeyError?: boolean; scratch?: boolean }
interface Expected { name: string; output?: string; error?: string; phase?: 'parse' | 'exec' }

const fixtures = new URL('../../../test/fixtures/gotemplate/', import.meta.url);
const cases: Case[] = JSON.parse(readFileSync(new URL('cases.json', fixtures), 'utf8'));
const expected = new Map((JSON.parse(readFileSync(new URL('expected.json', fixtures), 'utf8')) as Expected[]).map((e) => [e.name, e]));

function runtime(responses: Record<string, VaultResponse> = {}, calls: [VaultCall, boolean][] = []): TemplateRuntime {
  return createRuntime({ resolver: { lookup: (c) => responses[callId(c)] }, onCall: (c, k) => calls.push([c, k]), baseDir: '/', env: { X: 'y' } });
}

function compile(c: Pick<Case, 'template' | 'leftDelim' | 'rightDelim' | 'missingKeyError'>, name = 't') {
  return goEngine.compile({ text: c.template, name, leftDelimiter: c.leftDelim, rightDelimiter: c.rightDelim, errorOnMissingKey: c.missingKeyError ?? false });
}

function scratch() {
  const m: Record<string, unknown> = {};
  return { Set: (k: string, v: unknown) => ((m[k] = v), ''), Get: (k: string) => (k in m ? m[k] : null) };
}

/** Go's message without "template: NAME:LINE[:COL]: [executing "NAME" at <NODE>: ]". */
function goCore(err: string): { line: number; col?: number; core: string } {
  const m = /^template: [^:]*:(\d+)(?::(\d+))?: (?:executing "[^"]*" at <.*?>: )?([\s\S]*)$/.exec(err);
  assert.ok(m, `unexpected Go error shape: ${err}`);
  return { line: Number(m![1]), col: m![2] === undefined ? undefined : Number(m![2]), core: m![3] };
}

test('fixtures: one expected result per case', () => {
  assert.ok(cases.length >= 150);
  for (const c of cases) assert.ok(expected.has(c.name), c.name);
});

for (const c of cases) {
  test(`oracle: ${c.name}`, () => {
    const want = expected.get(c.name)!;
    let phase: 'parse' | 'exec' = 'parse';
    try {
      const t = compile(c, c.name);
      phase = 'exec';
      const data = c.scratch ? { ...(c.data as object), s: scratch() } : c.data;
      const out = t.execute(runtime(), data === null ? undefined : data);
      assert.is(want.error, undefined, `expected ${want.phase} error: ${want.error}`);
      assert.is(out, want.output);
    } catch (e) {
      if (e instanceof assert.Assertion) throw e;
      assert.ok(e instanceof CertrenderError, `not a CertrenderError: ${(e as Error).stack}`);
      assert.ok(want.error, `unexpected error: ${(e as Error).message}`);
      assert.is(phase, want.phase, (e as Error).message);
      assert.is((e as CertrenderError).code, phase === 'parse' ? 'CR_TEMPLATE_SYNTAX' : 'CR_TEMPLATE_RENDER');
      const go = goCore(want.error!);
      assert.ok((e as Error).message.includes(go.core), `ours: ${(e as Error).message}\n  go: ${want.error}`);
      assert.ok((e as Error).message.startsWith(`${c.name}:${go.line}:`), (e as Error).message);
    }
  });
}

test('positions: line:col (1-based) of the node that failed', () => {
  const at = (text: string, opts: { missingKeyError?: boolean } = {}) => {
    try {
      compile({ template: text, ...opts }).execute(runtime(), { m: {}, l: [1] });
    } catch (e) {
      return (e as Error).message.split(': ')[0];
    }
    return 'no error';
  };
  assert.is(at('a\n  {{ nope 1 }}'), 't:2:6');
  assert.is(at('{{ index .l 5 }}'), 't:1:4');
  assert.is(at('x\n\n{{ if .l }}\n{{ .m.zz }}{{ end }}', { missingKeyError: true }), 't:4:6'); // Go's position for a field chain: its last field
  assert.is(at('{{ 3 | len }}'), 't:1:8');
  assert.is(at('{{ "abc }}'), 't:1:4');
  assert.is(at('{{/* x '), 't:1:1');
});

test('Consul/Nomad and refused functions fail at parse time, naming the function', () => {
  for (const [fn, words] of [['key', /Consul/], ['service', /Consul/], ['nomadVariables', /Nomad/], ['plugin', /hook/]] as const) {
    try {
      compile({ template: `ok\n{{ ${fn} "a" }}` }, 'tpl.ctmpl');
      assert.unreachable();
    } catch (e) {
      assert.is((e as CertrenderError).code, 'CR_TEMPLATE_SYNTAX');
      assert.match((e as Error).message, new RegExp(`^tpl\\.ctmpl:2:4: function "${fn}"`));
      assert.match((e as Error).message, words);
    }
  }
});

test('render uses nil data and the runtime: secret and pkiCert, discovery then second pass', () => {
  const t = compile({ template: '{{ with secret "pki/issue/web" "common_name=a" }}{{ .Data.certificate }}|{{ range .Data.ca_chain }}{{ . }};{{ end }}{{ end }}|{{ (pkiCert "pki/issue/web" "common_name=a").Key }}|{{ .x }}' });
  const calls: [VaultCall, boolean][] = [];
  assert.is(t.render(runtime({}, calls)), '||<no value>');
  assert.is(calls.length, 2);
  assert.ok(calls.every(([, known]) => !known));
  const resp: VaultResponse = { data: { certificate: 'CERT', private_key: 'KEY', ca_chain: ['I1', 'I2'] } };
  const r = { [callId(calls[0][0])]: resp, [callId(calls[1][0])]: resp };
  assert.is(t.render(runtime(r)), 'CERT|I1;I2;|KEY\n|<no value>', 'pkiCert .Key ends with a newline (Go re-encodes it)');
});

test('discovery: templates over stubs never throw', () => {
  const templates = [
    '{{ secret "a" }}{{ (secret "a").Data.x.y.z }}',
    '{{ range (secret "a").Data.list }}x{{ else }}none{{ end }}',
    '{{ range $k, $v := (secret "a").Data }}{{ $k }}{{ end }}',
    '{{ if (secret "a").Data.flag }}t{{ else }}f{{ end }}',
    '{{ with secret "a" }}{{ .Data.certificate }}{{ end }}',
    '{{ $s := secret "a" }}{{ eq $s.Data.x "y" }}{{ ne $s.Data.x 1 }}{{ lt $s.Data.n 3 }}{{ ge $s.LeaseDuration 3 }}',
    '{{ len (secret "a").Data.ca_chain }}{{ index (secret "a").Data.ca_chain 0 }}{{ index (secret "a").Data "k" }}',
    '{{ slice (secret "a").Data.s 1 2 }}{{ printf "%s %d %v" (secret "a").Data.x (secret "a").Data.n (secret "a") }}',
    '{{ printf (secret "a").Data.fmt }}{{ print (secret "a") }}{{ println (secret "a").Data }}',
    '{{ and (secret "a") 1 }}{{ or (secret "a").Data 2 }}{{ not (secret "a") }}',
    '{{ base64Decode (secret "a").Data.b }}{{ toJSON (secret "a").Data }}{{ trimSpace (secret "a").Data.s }}',
    '{{ (secret "a").Data.certificate | trimSpace | printf "%q" }}{{ html (secret "a") }}{{ js (secret "a") }}{{ urlquery (secret "a") }}',
    '{{ call (secret "a").Data.f 1 }}{{ executeTemplate (secret "a").Data.name }}{{ (pkiCert "p").CAChain }}',
  ];
  for (const text of templates) {
    const out = compile({ template: text, missingKeyError: true }).render(runtime());
    assert.type(out, 'string', text);
  }
});

test('runtime function errors keep their code and gain a position', () => {
  try {
    compile({ template: 'x\n{{ base64Decode "***" }}' }).render(runtime());
    assert.unreachable();
  } catch (e) {
    assert.is((e as CertrenderError).code, 'CR_TEMPLATE_FUNCTION');
    assert.match((e as Error).message, /^t:2:4: error calling base64Decode: /);
  }
});

test('range over a huge int is bounded', () => {
  try {
    compile({ template: '{{ range 1000000000 }}{{ end }}' }).render(runtime());
    assert.unreachable();
  } catch (e) {
    assert.is((e as CertrenderError).code, 'CR_TEMPLATE_RENDER');
  }
});

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('fuzz: compile+render returns a string or throws a positioned CertrenderError', () => {
  const rand = prng(20240611);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)];
  const atoms = ['{{', '}}', '{{- ', ' -}}', '{{/*', '*/}}', '(', ')', '|', ' ', '$x', ':=', '=', '.', '.a', '"s"', '`r`', "'c'", '3', '-1', '1.5', 'nil', 'true', 'if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'len', 'index', 'slice', 'printf', '"%d %s %v"', 'eq', 'and', 'or', 'not', 'print', '$', ',', '\n', 'x', 'secret', 'executeTemplate', '99999', 'call'];
  const data = { a: [1, 'b', { c: null }], m: { k: 'v' }, n: null, s: 'str' };
  for (let iter = 0; iter < 3000; iter++) {
    let text: string;
    if (rand() < 0.5) {
      const chars = [...pick(cases).template];
      for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) {
        const at = Math.floor(rand() * (chars.length + 1));
        const r = rand();
        if (r < 0.4) chars.splice(at, 1);
        else if (r < 0.8) chars.splice(at, 0, ...pick(atoms));
        else chars.splice(at, 0, ...chars.slice(Math.floor(rand() * chars.length)).slice(0, 8));
      }
      text = chars.join('');
    } else {
      text = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => pick(atoms)).join(rand() < 0.5 ? ' ' : '');
    }
    try {
      const out = compile({ template: text, missingKeyError: rand() < 0.3 }).execute(runtime(), rand() < 0.8 ? data : undefined);
      assert.type(out, 'string');
    } catch (e) {
      if (e instanceof assert.Assertion) throw e;
      assert.ok(e instanceof CertrenderError, `${JSON.stringify(text)}: ${(e as Error).stack}`);
      assert.match((e as Error).message, /^t(:\d+:\d+)?: /, text);
    }
  }
});

test.run();
