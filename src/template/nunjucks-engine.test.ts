import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nunjucksEngine } from './nunjucks-engine.js';
import { createRuntime } from './runtime.js';
import { callId, type VaultCall } from './vault-call.js';
import type { VaultResponse } from './vault-response.js';

function render(text: string, responses: Record<string, VaultResponse> = {}, opts: { errorOnMissingKey?: boolean; left?: string; right?: string; env?: NodeJS.ProcessEnv } = {}) {
  const calls: [VaultCall, boolean][] = [];
  const runtime = createRuntime({
    resolver: { lookup: (c) => responses[callId(c)] },
    onCall: (c, known) => calls.push([c, known]),
    baseDir: '/',
    env: opts.env ?? {},
  });
  const out = nunjucksEngine
    .compile({ text, name: 't.njk', errorOnMissingKey: opts.errorOnMissingKey ?? false, leftDelimiter: opts.left, rightDelimiter: opts.right })
    .render(runtime);
  return { out, calls };
}

const ISSUE = { kind: 'write', path: 'pki/issue/web', params: { common_name: 'a' } } as const;
const RESP: VaultResponse = {
  lease_id: '',
  lease_duration: 0,
  renewable: false,
  data: { certificate: 'CERT', private_key: 'KEY', issuing_ca: 'CA', ca_chain: ['I1', 'I2'] },
  warnings: null,
};

test('discovery: unknown calls are recorded and render as empty without throwing', () => {
  const { out, calls } = render('[{{ secret("pki/issue/web", "common_name=a").Data.certificate }}]{% for c in secret("pki/issue/web", "common_name=a").Data.ca_chain %}x{% endfor %}');
  assert.is(out, '[]');
  assert.is(calls.length, 2);
  assert.ok(calls.every(([, known]) => !known));
});

test('second pass: consul-template shapes from the fetched response', () => {
  const r = { [callId(ISSUE)]: RESP };
  const t = '{% set s = secret("pki/issue/web", "common_name=a") %}{{ s.Data.certificate }}|{{ s.Data.ca_chain | join(",") }}|{{ s.LeaseDuration }}|{{ pkiCert("pki/issue/web", "common_name=a").Key }}|{{ pkiCert("pki/issue/web", "common_name=a").Data.CAChain[1] }}';
  assert.is(render(t, r).out, 'CERT|I1,I2|0|KEY\n|I2\n', 'pkiCert fields end with a newline, as Go re-encodes them');
});

test('pure functions as functions and filters; toJSON sorts keys like Go', () => {
  const t = '{{ base64Encode("hi") }} {{ "aGk=" | base64Decode }} {{ trimSpace("  x ") }} {{ toJSON({b: 1, a: [2, {d: 1, c: 0}]}) }} {{ env("X") }}';
  assert.is(render(t, {}, { env: { X: 'y' } }).out, 'aGk= hi x {"a":[2,{"c":0,"d":1}],"b":1} y');
});

test('as filters the piped value is the last argument, as in a Go pipeline', () => {
  assert.is(render('{{ "a,b" | split(",") | join("+") }}|{{ "a\nb" | indent(2) }}|{{ "x" | toUpper }}').out, 'a+b|  a\n  b|X');
});

test('a failing filter keeps its code', () => {
  try {
    render('{{ "a" | parseInt }}');
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_TEMPLATE_FUNCTION');
    assert.match((e as Error).message, /^t\.njk: parseInt: /);
  }
});

test('autoescape is off', () => {
  assert.is(render('{{ "<a & b>" }}').out, '<a & b>');
});

test('custom delimiters', () => {
  assert.is(render('[[ env("X") ]] {{ literal }}', {}, { left: '[[', right: ']]', env: { X: '1' } }).out, '1 {{ literal }}');
});

test('error_on_missing_key turns a missing key into an error with a position', () => {
  assert.is(render('a{{ nothing }}b').out, 'ab');
  try {
    render('line1\n{{ nothing }}', {}, { errorOnMissingKey: true });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_TEMPLATE_RENDER');
    assert.match((e as Error).message, /^t\.njk:2:/);
  }
});

test('syntax errors are CR_TEMPLATE_SYNTAX naming the template', () => {
  try {
    nunjucksEngine.compile({ text: 'a\n{% for x in %}', name: 'bad.njk', errorOnMissingKey: false });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_TEMPLATE_SYNTAX');
    assert.match((e as Error).message, /^bad\.njk/);
  }
});

test.run();
