#!/usr/bin/env node
/**
 * Expected outputs of consul-template's pure template functions, from the real binary.
 *
 * Each case is a call tree: ["fn", arg, ...] where an arg is a Go literal (string,
 * integer, non-integer float, boolean) or { call: [...] } for a nested call; "a.B"
 * names a method of a value (scratch.Set). A case prints one or more parts:
 * { print: call } is `{{ call }}`, { range: call } is `{{ range call }}{{ . }},{{ end }}`.
 * The template is rendered with `consul-template -once` (no Consul, no Vault) under the
 * case's environment; a failing render records error: true.
 *
 *   node tools/functions-oracle/generate.mjs [/path/to/consul-template]
 *
 * writes test/fixtures/functions/expected.json. timestamp layouts need a fixed clock,
 * which consul-template has not: see timestamp.go.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = process.argv[2] ?? '/root/go/bin/consul-template';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'test/fixtures/functions/expected.json');

const c = (...call) => ({ call });
const json = (...call) => ['toJSON', c(...call)];

/** name, parts (or call), env */
const CASES = [
  // env
  { name: 'env set', call: ['env', 'CR_A'], env: { CR_A: 'alpha' } },
  { name: 'env unset is empty', call: ['env', 'CR_NOPE'] },
  { name: 'mustEnv set', call: ['mustEnv', 'CR_A'], env: { CR_A: 'x y' } },
  { name: 'mustEnv unset fails', call: ['mustEnv', 'CR_NOPE'] },
  { name: 'mustEnv empty fails', call: ['mustEnv', 'CR_A'], env: { CR_A: '' } },
  { name: 'envOrDefault unset', call: ['envOrDefault', 'CR_NOPE', 'dflt'] },
  { name: 'envOrDefault set empty keeps empty', call: ['envOrDefault', 'CR_A', 'dflt'], env: { CR_A: '' } },
  { name: 'envOrDefault set', call: ['envOrDefault', 'CR_A', 'dflt'], env: { CR_A: 'v' } },
  // JSON
  { name: 'toJSON escapes html and line separators', call: json('parseJSON', '{"s":"<a href=\\"x\\">&\\u2028\\u2029</a>"}') },
  { name: 'toJSON sorts keys, nested', call: json('parseJSON', '{"b":{"z":1,"y":[true,null,"x"]},"a":2.5,"B":0,"_":-1}') },
  { name: 'toJSON control characters', call: json('parseJSON', '"\\u0000\\u0001\\b\\f\\n\\r\\t\\u001f\\u007f\\"\\\\/é😀"') },
  { name: 'toJSON numbers', call: json('parseJSON', '[1, 1.5, 1e6, 1e21, 1e-7, 0.000001, -0, 123456789012345678901234567890, 100000000000000000000]') },
  { name: 'toJSON string', call: ['toJSON', 'a"b'] },
  { name: 'toJSON list from split', call: json('split', ',', 'a,b') },
  { name: 'toJSON empty parseJSON is an empty map', call: json('parseJSON', '') },
  { name: 'toJSONPretty nested', call: ['toJSONPretty', c('parseJSON', '{"b":[1,{"d":[],"c":{}}],"a":"<"}')] },
  { name: 'toJSONPretty scalar and empty', parts: [{ print: ['toJSONPretty', 'x'] }, { print: ['toJSONPretty', c('parseJSON', '[]')] }] },
  { name: 'parseJSON prints as a Go map', call: ['parseJSON', '{"b":[1,"x"],"a":null,"c":true}'] },
  { name: 'parseJSON invalid fails', call: ['parseJSON', '{"a":'] },
  // base64
  { name: 'base64Encode', call: ['base64Encode', 'hello?>world'] },
  { name: 'base64Decode', call: ['base64Decode', 'aGVsbG8/PndvcmxkIQ=='] },
  { name: 'base64Decode rejects missing padding', call: ['base64Decode', 'aGk'] },
  { name: 'base64Decode rejects url alphabet', call: ['base64Decode', 'aGVsbG8_PndvcmxkIQ=='] },
  { name: 'base64URLEncode', call: ['base64URLEncode', 'hello?>world'] },
  { name: 'base64URLDecode', call: ['base64URLDecode', 'aGVsbG8_PndvcmxkIQ=='] },
  { name: 'base64URLDecode rejects std alphabet', call: ['base64URLDecode', 'aGVsbG8/PndvcmxkIQ=='] },
  // strings
  { name: 'trimSpace', call: ['trimSpace', ' \t\n a b \r\n'] },
  { name: 'trim cutset', call: ['trim', 'xy', 'xyxhixyy'] },
  { name: 'trimPrefix', call: ['trimPrefix', 'ab', 'ababc'] },
  { name: 'trimSuffix', call: ['trimSuffix', '.pem', 'cert.pem.pem'] },
  { name: 'split', call: ['split', ',', 'a,b,,c'] },
  { name: 'split trims and empty is empty list', call: json('split', ',', '  \n') },
  { name: 'split trims surrounding space only', call: json('split', ',', ' a , b ') },
  { name: 'split empty separator splits runes', call: json('split', '', 'héllo') },
  { name: 'split missing separator', call: json('split', ';', 'a,b') },
  { name: 'join', call: ['join', ', ', c('split', ',', 'a,b,c')] },
  { name: 'join empty list', call: ['join', ',', c('split', ',', '')] },
  { name: 'replaceAll', call: ['replaceAll', '.', '_', 'a.b.c'] },
  { name: 'replaceAll empty old', call: ['replaceAll', '', '-', 'abc'] },
  { name: 'contains in string', call: ['contains', 'ell', 'hello'] },
  { name: 'contains in list', call: ['contains', 'b', c('split', ',', 'a,b')] },
  { name: 'contains not in list', call: ['contains', 'x', c('split', ',', 'a,b')] },
  { name: 'in list', call: ['in', c('split', ',', 'a,b'), 'a'] },
  { name: 'in string', call: ['in', 'hello', 'lo'] },
  { name: 'containsAll', parts: [{ print: ['containsAll', c('parseJSON', '["a","b"]'), c('split', ',', 'a,b,c')] }, { print: ['containsAll', c('parseJSON', '["a","x"]'), c('split', ',', 'a,b,c')] }, { print: ['containsAll', c('parseJSON', '[]'), 'abc'] }] },
  { name: 'containsAny', parts: [{ print: ['containsAny', c('parseJSON', '["x","b"]'), c('split', ',', 'a,b,c')] }, { print: ['containsAny', c('parseJSON', '["x","y"]'), c('split', ',', 'a,b,c')] }, { print: ['containsAny', c('parseJSON', '["bc"]'), 'abc'] }] },
  { name: 'toLower toUpper', parts: [{ print: ['toLower', 'HeLLo É'] }, { print: ['toUpper', 'HeLLo é ß'] }] },
  { name: 'toTitle', call: ['toTitle', "hello wORLD foo-bar foo_bar don't x.y 1st  a.b. élan"] },
  { name: 'indent', call: ['indent', 4, 'a\nb\n\nc\n'] },
  { name: 'indent zero', call: ['indent', 0, 'a\nb'] },
  { name: 'indent negative fails', call: ['indent', -1, 'a'] },
  // parsing
  { name: 'parseInt', parts: [{ print: ['parseInt', '42'] }, { print: ['parseInt', '-0042'] }, { print: ['parseInt', '+7'] }, { print: ['parseInt', ''] }, { print: ['parseInt', '9223372036854775807'] }] },
  { name: 'parseInt hex fails', call: ['parseInt', '0x1f'] },
  { name: 'parseInt underscore fails', call: ['parseInt', '1_000'] },
  { name: 'parseInt overflow fails', call: ['parseInt', '9223372036854775808'] },
  { name: 'parseInt space fails', call: ['parseInt', ' 1'] },
  { name: 'parseUint', parts: [{ print: ['parseUint', '18446744073709551615'] }, { print: ['parseUint', ''] }] },
  { name: 'parseUint negative fails', call: ['parseUint', '-1'] },
  { name: 'parseFloat', parts: [{ print: ['parseFloat', '1.5'] }, { print: ['parseFloat', '1e6'] }, { print: ['parseFloat', '100000'] }, { print: ['parseFloat', '0.0001'] }, { print: ['parseFloat', '0.00001'] }, { print: ['parseFloat', '-Inf'] }, { print: ['parseFloat', '.5'] }, { print: ['parseFloat', '0x1p-2'] }, { print: ['parseFloat', ''] }] },
  { name: 'parseFloat garbage fails', call: ['parseFloat', '1.5x'] },
  { name: 'parseBool', parts: [{ print: ['parseBool', 'true'] }, { print: ['parseBool', 'T'] }, { print: ['parseBool', '0'] }, { print: ['parseBool', 'FALSE'] }, { print: ['parseBool', ''] }] },
  { name: 'parseBool garbage fails', call: ['parseBool', 'yes'] },
  // hashes
  { name: 'sha256Hex', call: ['sha256Hex', 'hello'] },
  { name: 'md5sum', call: ['md5sum', 'hello'] },
  // regex
  { name: 'regexMatch', parts: [{ print: ['regexMatch', '^[a-z]+\\d{2}$', 'abc12'] }, { print: ['regexMatch', '^[a-z]+\\d{2}$', 'abc123'] }] },
  { name: 'regexMatch flags and classes', parts: [{ print: ['regexMatch', '(?i)^HELLO\\s', 'hello world'] }, { print: ['regexMatch', '^[[:alpha:]]+$', 'abcXYZ'] }, { print: ['regexMatch', '\\Aa.c\\z', 'a\nc'] }, { print: ['regexMatch', '(?s)\\Aa.c\\z', 'a\nc'] }] },
  { name: 'regexMatch unanchored', call: ['regexMatch', 'b+', 'abbbc'] },
  { name: 'regexMatch backreference fails', call: ['regexMatch', '(a)\\1', 'aa'] },
  { name: 'regexMatch lookahead fails', call: ['regexMatch', 'a(?=b)', 'ab'] },
  { name: 'regexReplaceAll groups', call: ['regexReplaceAll', '(\\w+)@(\\w+)', '$2 at ${1}', 'joe@example bob@host'] },
  { name: 'regexReplaceAll named group', call: ['regexReplaceAll', '(?P<user>\\w+)@(?P<host>\\w+)', '${host}/$user', 'joe@example'] },
  { name: 'regexReplaceAll $1x is a name', call: ['regexReplaceAll', '(a)', '[$1x][${1}x][$$][$]', 'a'] },
  { name: 'regexReplaceAll empty matches', call: ['regexReplaceAll', 'a*', '-', 'baaac'] },
  { name: 'regexReplaceAll unicode', call: ['regexReplaceAll', '.', '<$0>', 'é😀'] },
  { name: 'regexReplaceAll whitespace class is ascii', call: ['regexReplaceAll', '\\s+', '_', 'a \t\u00a0b'] },
  // math
  { name: 'add', parts: [{ print: ['add', 1, 2] }, { print: ['add', 1.5, 2] }, { print: ['add', 2, 1.25] }] },
  { name: 'subtract', parts: [{ print: ['subtract', 1, 5] }, { print: ['subtract', 0.5, 5] }] },
  { name: 'multiply', parts: [{ print: ['multiply', 3, 4] }, { print: ['multiply', 0.5, 5] }] },
  { name: 'divide', parts: [{ print: ['divide', 2, 7] }, { print: ['divide', 2, -7] }, { print: ['divide', 2.5, 5] }] },
  { name: 'modulo', parts: [{ print: ['modulo', 3, 10] }, { print: ['modulo', 3, -10] }] },
  { name: 'modulo float fails', call: ['modulo', 1.5, 10] },
  { name: 'minimum maximum', parts: [{ print: ['minimum', 3, 10] }, { print: ['maximum', 3, 10] }, { print: ['minimum', 2.5, 10] }, { print: ['maximum', 2.5, 1] }] },
  { name: 'add string fails', call: ['add', 1, 'x'] },
  { name: 'math on parsed values', call: ['add', c('parseInt', '40'), c('parseInt', '2')] },
  // loop
  { name: 'loop one arg', parts: [{ range: ['loop', 3] }] },
  { name: 'loop two args', parts: [{ range: ['loop', 5, 8] }] },
  { name: 'loop string args', parts: [{ range: ['loop', '2', '4'] }] },
  { name: 'loop empty', parts: [{ range: ['loop', 5, 2] }] },
  { name: 'loop three args fails', parts: [{ range: ['loop', 1, 5, 2] }] },
  // scratch
  {
    name: 'scratch Set Get Key SetX',
    parts: [
      { print: ['scratch.Key', 'a'] },
      { print: ['scratch.Set', 'a', 'one'] },
      { print: ['scratch.SetX', 'a', 'two'] },
      { print: ['scratch.SetX', 'b', 'bee'] },
      { print: ['scratch.Get', 'a'] },
      { print: ['scratch.Get', 'b'] },
      { print: ['scratch.Key', 'a'] },
      { print: ['scratch.Set', 'a', 'three'] },
      { print: ['scratch.Get', 'a'] },
    ],
  },
  {
    name: 'scratch MapSet MapSetX MapValues',
    parts: [
      { print: ['scratch.MapSet', 'm', 'z', 'last'] },
      { print: ['scratch.MapSet', 'm', 'a', 'first'] },
      { print: ['scratch.MapSetX', 'm', 'a', 'ignored'] },
      { print: ['scratch.MapSetX', 'm', 'k', 'middle'] },
      { print: ['scratch.MapValues', 'm'] },
      { print: ['toJSON', c('scratch.Get', 'm')] },
      { print: ['scratch.MapValues', 'nothing'] },
    ],
  },
  { name: 'scratch MapSet on a non-map fails', parts: [{ print: ['scratch.Set', 's', 'x'] }, { print: ['scratch.MapSet', 's', 'k', 'v'] }] },
];

const goLiteral = (v) => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v && Array.isArray(v.call)) return `(${goExpr(v.call)})`;
  throw new Error(`no Go literal for ${JSON.stringify(v)}`);
};
const goExpr = ([fn, ...args]) => [fn, ...args.map(goLiteral)].join(' ');
const partText = (p) => (p.range ? `{{ range ${goExpr(p.range)} }}{{ . }},{{ end }}` : `{{ ${goExpr(p.print)} }}`);

const dir = mkdtempSync(join(tmpdir(), 'cr-functions-oracle-'));
const results = [];
try {
  for (const k of CASES) {
    const parts = k.parts ?? [{ print: k.call }];
    const template = parts.map(partText).join('|');
    const env = k.env ?? {};
    writeFileSync(join(dir, 'in.tpl'), template);
    rmSync(join(dir, 'out.txt'), { force: true });
    const entry = { name: k.name, parts, template, env };
    try {
      execFileSync(BIN, ['-once', '-log-level', 'err', '-template', `${join(dir, 'in.tpl')}:${join(dir, 'out.txt')}`], {
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 20_000,
      });
      entry.output = readFileSync(join(dir, 'out.txt'), 'utf8');
    } catch (e) {
      if (e.status === undefined || e.status === null) throw e;
      entry.error = true;
      entry.message = String(e.stderr).trim().replace(/^.*?execute: /s, '');
    }
    results.push(entry);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
console.log(`${results.length} cases (${results.filter((r) => r.error).length} errors) -> ${OUT}`);
