import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nunjucksEngine } from '../nunjucks-engine.js';
import { createRuntime, type TemplateRuntime } from '../runtime.js';
import { callId, makeCall } from '../vault-call.js';
import type { VaultResponse } from '../vault-response.js';
import { goEngine } from './go-engine.js';
import { translateGoTemplate } from './to-nunjucks.js';

interface Case { name: string; template: string; data: unknown; leftDelim?: string; rightDelim?: string; missingKeyError?: boolean; scratch?: boolean }
interface Expected { name: string; output?: string; error?: string }

const fixtures = new URL('../../../test/fixtures/gotemplate/', import.meta.url);
const cases: Case[] = JSON.parse(readFileSync(new URL('cases.json', fixtures), 'utf8'));
const expected = new Map((JSON.parse(readFileSync(new URL('expected.json', fixtures), 'utf8')) as Expected[]).map((e) => [e.name, e]));

const ISSUE: VaultResponse = {
  lease_id: '', lease_duration: 3600, renewable: false, warnings: null,
  data: { certificate: '-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----', issuing_ca: 'CA', ca_chain: ['I1', 'I2'], private_key: 'KEY', private_key_type: 'ec', serial_number: '01:02', expiration: 1700000000 },
};
const KV: VaultResponse = {
  lease_id: '', lease_duration: 0, renewable: false, warnings: null,
  data: { data: { password: 'p@ss', hosts: ['a', 'b'], n: 3, empty: [], nested: { b: 1, a: [2, null], B: 'x' } }, metadata: { version: 2 } },
};
const responses: Record<string, VaultResponse> = {
  [callId(makeCall('pki/issue/web', ['common_name=a']))]: ISSUE,
  [callId(makeCall('pki_k8s/issue/kubernetes', ['common_name=kube-apiserver', 'alt_names=kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.kubernetes, yourdomain.tld', 'ip_sans=100.64.0.1, IP.ADDRESS.MASTER.1, IP.ADDRESS.MASTER.2, IP.ADDRESS.MASTER.3', 'exclude_cn_from_sans=true', 'ttl=17520h']))]: ISSUE,
  [callId(makeCall('secret/data/app', []))]: KV,
};

function runtime(): TemplateRuntime {
  return createRuntime({ resolver: { lookup: (c) => responses[callId(c)] }, onCall: () => {}, baseDir: '/', env: { X: 'y', HOST: 'web-1' } });
}

/** Renders the Go original and its translation against the same runtime (and data); returns both. */
function both(o: { template: string; name: string; data?: unknown; left?: string; right?: string }) {
  const t = translateGoTemplate({ text: o.template, name: o.name, leftDelimiter: o.left, rightDelimiter: o.right, dot: o.data === undefined ? undefined : 'data' });
  const go = goEngine.compile({ text: o.template, name: o.name, leftDelimiter: o.left, rightDelimiter: o.right, errorOnMissingKey: false });
  const goOut = o.data === undefined ? go.render(runtime()) : go.execute(runtime(), o.data);
  if (!t.ok) return { t, goOut };
  const context = o.data === undefined ? runtime() : ({ ...runtime(), data: o.data } as unknown as TemplateRuntime);
  const njOut = nunjucksEngine.compile({ text: t.text, name: `${o.name}.njk`, errorOnMissingKey: false }).render(context);
  return { t, goOut, njOut };
}

test('fixture corpus: each translation renders the same bytes as Go, or is refused with a warning', () => {
  let translated = 0;
  for (const c of cases) {
    if (expected.get(c.name)?.error || c.scratch || c.missingKeyError) continue;
    const r = both({ template: c.template, name: c.name, data: c.data ?? {}, left: c.leftDelim, right: c.rightDelim });
    if (!r.t.ok) {
      assert.ok(r.t.warnings.length > 0 && r.t.warnings.every((w) => w.startsWith(`${c.name}:`)), c.name);
      continue;
    }
    assert.is(r.njOut, r.goOut, `${c.name}: ${r.t.text}`);
    translated++;
  }
  assert.ok(translated >= 80, `only ${translated} fixture templates translated`);
});

const CONSUL_TEMPLATE: [string, string][] = [
  ['story-apiserver', '{{- /* apiserver-cert.tpl */ -}}\n{{ with secret "pki_k8s/issue/kubernetes" "common_name=kube-apiserver" "alt_names=kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.kubernetes, yourdomain.tld" "ip_sans=100.64.0.1, IP.ADDRESS.MASTER.1, IP.ADDRESS.MASTER.2, IP.ADDRESS.MASTER.3" "exclude_cn_from_sans=true" "ttl=17520h" }}\n{{ .Data.certificate }}{{ end}}\n'],
  ['key', '{{ with secret "pki/issue/web" "common_name=a" }}{{ .Data.private_key }}{{ end }}'],
  ['bundle', '{{- with secret "pki/issue/web" "common_name=a" -}}\n{{ .Data.certificate }}\n{{ range .Data.ca_chain }}{{ . }}\n{{ end }}{{ end -}}\n'],
  ['chain-index', '{{ range $i, $c := (secret "pki/issue/web" "common_name=a").Data.ca_chain }}{{ if $i }}\n{{ end }}{{ $c }}{{ end }}'],
  ['pkicert', '{{ with pkiCert "pki/issue/web" "common_name=a" }}{{ .Cert }}|{{ .Key }}|{{ .CA }}|{{ range .CAChain }}{{ . }};{{ end }}|{{ .Data.Cert }}{{ end }}'],
  ['kv-map-range', '{{ with secret "secret/data/app" }}{{ .Data.data.password }}\n{{ range $k, $v := .Data.data.nested }}{{ $k }}={{ $v }};{{ end }}{{ end }}'],
  ['kv-list-range', '{{ with secret "secret/data/app" }}{{ range .Data.data.hosts }}{{ . }},{{ end }}[{{ .Data.data.missing }}]{{ end }}'],
  ['kv-range-all', '{{ range $k, $v := (secret "secret/data/app").Data.data }}{{ $k }}:{{ $v }}\n{{ end }}'],
  ['kv-range-empty-else', '{{ range (secret "secret/data/app").Data.data.empty }}x{{ else }}none{{ end }}|{{ with (secret "secret/data/app").Data.data.empty }}x{{ else }}empty{{ end }}'],
  ['print-chain-list', '{{ (secret "pki/issue/web" "common_name=a").Data.ca_chain }}'],
  ['var-secret', '{{ $s := secret "pki/issue/web" "common_name=a" }}{{ $s.Data.certificate }}|{{ $s.LeaseDuration }}|{{ $s.Renewable }}|{{ $s.Data.serial_number }}'],
  ['env-pipe', '{{ env "X" | toUpper }}|{{ "a,b" | split "," | join ";" }}|{{ envOrDefault "NOPE" "dflt" }}'],
  ['cond-and-not', '{{ if and (secret "pki/issue/web" "common_name=a").Data.certificate (not (env "NOPE")) }}ok{{ else }}no{{ end }}'],
  ['cond-or-list', '{{ $d := (secret "secret/data/app").Data.data }}{{ if or $d.empty $d.hosts }}some{{ end }}{{ if and $d.empty $d.hosts }}both{{ end }}'],
  ['to-json', '{{ with secret "pki/issue/web" "common_name=a" }}{{ .Data | toJSON }}{{ end }}'],
  ['b64-kv', '{{ base64Encode (secret "secret/data/app").Data.data.password }}'],
  ['index-chain', '{{ with secret "pki/issue/web" "common_name=a" }}{{ if .Data.ca_chain }}{{ index .Data.ca_chain 1 }}{{ end }}{{ index .Data "issuing_ca" }}{{ end }}'],
  ['else-if', '{{ $n := (secret "secret/data/app").Data.data.n }}{{ if eq $n 1 }}one{{ else if gt $n 2 }}many{{ else }}two{{ end }}'],
  ['with-else-with', '{{ with (secret "secret/data/app").Data.data.missing }}a{{ else with env "HOST" }}{{ . }}{{ else }}c{{ end }}'],
  ['var-scope', '{{ $x := "outer" }}{{ with secret "pki/issue/web" "common_name=a" }}{{ $x := .Data.issuing_ca }}{{ $x }}{{ end }}|{{ $x }}'],
  ['var-assign-in-range', '{{ $last := "" }}{{ range (secret "pki/issue/web" "common_name=a").Data.ca_chain }}{{ $last = . }}{{ end }}{{ $last }}'],
  ['trim-lines', 'a\n{{- with secret "pki/issue/web" "common_name=a" }}\n  {{ .Data.private_key_type -}}\n{{ end }}\nb\n'],
  ['raw-string', '{{ with secret "pki/issue/web" "common_name=a" }}{{ .Data.certificate | replaceAll `-----` `==` }}{{ end }}'],
  ['text-braces', 'x = {{ "{{" }} and {% raw %}{#{{ env "X" }}{%}'],
  ['writeToFile', '{{ with pkiCert "pki/issue/web" "common_name=a" }}{{ .Key | writeToFile "/tmp/k.pem" "" "" "0600" }}{{ .Cert }}{{ end }}'],
];

for (const [name, template] of CONSUL_TEMPLATE) {
  test(`consul-template shape: ${name}`, () => {
    const r = both({ template, name });
    assert.equal(r.t.warnings, []);
    assert.ok(r.t.ok);
    assert.is(r.njOut, r.goOut, r.t.text);
  });
}

test('custom delimiters: translated to nunjucks delimiters, literal {{ kept', () => {
  const r = both({ template: '[[ with secret "pki/issue/web" "common_name=a" ]][[ .Data.certificate ]] {{ literal }}[[ end ]]', name: 'delims', left: '[[', right: ']]' });
  assert.ok(r.t.ok);
  assert.is(r.njOut, r.goOut);
  assert.ok(r.goOut.endsWith(' {{ literal }}'));
});

test('printf is not in the runtime: a positioned warning, a TODO in the draft', () => {
  const t = translateGoTemplate({ text: 'a\n{{ printf "%s-%d" (env "X") 3 }}\n{{ env "X" }}', name: 'p.tpl' });
  assert.not.ok(t.ok);
  assert.equal(t.warnings, ["p.tpl:2:4: cannot translate Go's printf has no nunjucks equivalent in certrender's runtime"]);
  assert.match(t.text, /\{# TODO \(Go, line 2\): \{\{ printf "%s-%d" \(env "X"\) 3 \}\} #\}/);
  assert.match(t.text, /\{\{ env\("X"\) \}\}/);
});

test('other untranslatable constructs are refused, never mistranslated', () => {
  for (const text of ['{{ range .x }}{{ break }}{{ end }}', '{{ define "a" }}x{{ end }}{{ template "a" }}', '{{ with secret "k/data/x" }}{{ len .Data.data.s }}{{ end }}', '{{ 1.5 }}', '{{ with env "X" }}{{ $.Data }}{{ end }}', '{{ $x := 0 }}{{ range $x = loop 3 }}{{ end }}']) {
    const t = translateGoTemplate({ text, name: 'u' });
    assert.not.ok(t.ok, text);
    assert.ok(t.warnings.length > 0, text);
  }
  const refused = translateGoTemplate({ text: '{{ key "a" }}', name: 'c.tpl' });
  assert.match(refused.warnings[0], /^c\.tpl:1:4: .*"key" is refused/);
});

test('readable output: calls with the piped value last, field chains, with as set + if', () => {
  const t = translateGoTemplate({ text: '{{ with secret "pki/issue/web" "common_name=a" }}{{ .Data.certificate | trimSpace }}{{ end }}{{ "a" | replaceAll "a" "b" }}', name: 'r' });
  assert.is(t.text.replace(/^\{#.*?#\}/, ''), '{% set s = secret("pki/issue/web", "common_name=a") %}{% if s %}{{ trimSpace(s.Data.certificate) }}{% endif %}{{ replaceAll("a", "b", "a") }}');
});

test.run();
