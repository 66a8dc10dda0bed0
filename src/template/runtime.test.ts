import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import type { EngineName } from './engine.js';
import { goEngine } from './go/go-engine.js';
import { nunjucksEngine } from './nunjucks-engine.js';
import { createRuntime, type FileWrite, type RuntimeOptions } from './runtime.js';
import type { VaultCall } from './vault-call.js';

const ENGINES = { go: goEngine, nunjucks: nunjucksEngine };

function render(engine: EngineName, text: string, opts: Partial<RuntimeOptions> = {}) {
  const calls: VaultCall[] = [];
  const writes: FileWrite[] = [];
  const runtime = createRuntime({ resolver: { lookup: () => undefined }, onCall: (c) => calls.push(c), onWrite: (w) => writes.push(w), baseDir: '/', env: { X: 'y' }, ...opts });
  const out = ENGINES[engine].compile({ text, name: `tpl/t.${engine}`, errorOnMissingKey: false }).render(runtime);
  return { out, calls, writes };
}

/** The CertrenderError a render throws. */
function failure(engine: EngineName, text: string, opts: Partial<RuntimeOptions>): CertrenderError {
  try {
    render(engine, text, opts);
  } catch (e) {
    assert.instance(e, CertrenderError, String(e));
    return e as CertrenderError;
  }
  throw new assert.Assertion({ message: `expected ${JSON.stringify(text)} to fail` });
}

// ---- function_denylist ---------------------------------------------------------------------

// [engine, template calling the denied function, the denied name]
const deniedCalls: [EngineName, string, string][] = [
  ['go', '{{ base64Encode "hi" }}', 'base64Encode'],
  ['go', 'a\n{{ "hi" | base64Encode }}', 'base64Encode'],
  ['go', '{{ env "X" }}', 'env'],
  ['go', '{{ with secret "kv/data/app" }}{{ .Data }}{{ end }}', 'secret'],
  ['go', '{{ scratch.Set "k" "v" }}', 'scratch'],
  ['go', '{{ define "x" }}a{{ end }}{{ executeTemplate "x" }}', 'executeTemplate'],
  ['nunjucks', '{{ base64Encode("hi") }}', 'base64Encode'],
  ['nunjucks', 'a\n{{ "hi" | base64Encode }}', 'base64Encode'],
  ['nunjucks', '{{ env("X") }}', 'env'],
  ['nunjucks', '{{ secret("kv/data/app").Data }}', 'secret'],
  ['nunjucks', '{{ scratch.Set("k", "v") }}', 'scratch'],
];
for (const [engine, text, name] of deniedCalls) {
  test(`function_denylist: ${engine} ${JSON.stringify(text)} fails naming ${name} and the template`, () => {
    const e = failure(engine, text, { functionDenylist: ['toUpper', name] });
    assert.is(e.code, 'CR_TEMPLATE_FUNCTION');
    assert.ok(e.message.startsWith(`tpl/t.${engine}:`), e.message);
    assert.ok(e.message.includes(`function "${name}" is disabled by this template's function_denylist`), e.message);
  });
}

test('function_denylist: the other functions still work, in both engines', () => {
  const opts = { functionDenylist: ['base64Encode', 'executeTemplate'] };
  assert.is(render('go', '{{ "x" | toUpper }} {{ base64Decode "aGk=" }} {{ printf "%d" 1 }} {{ env "X" }}', opts).out, 'X hi 1 y');
  assert.is(render('nunjucks', '{{ "x" | toUpper }} {{ "aGk=" | base64Decode }} {{ env("X") }}', opts).out, 'X hi y');
  assert.is(render('go', '{{ define "x" }}a{{ end }}{{ executeTemplate "x" }}').out, 'a', 'executeTemplate when not denied');
});

test('function_denylist: only a call fails, and a denied secret never reaches Vault', () => {
  const opts = { functionDenylist: ['secret'] };
  assert.is(render('go', '{{ if false }}{{ secret "kv/data/app" }}{{ end }}ok', opts).out, 'ok');
  assert.is(render('nunjucks', '{% if false %}{{ secret("kv/data/app") }}{% endif %}ok', opts).out, 'ok');
  const calls: VaultCall[] = [];
  assert.throws(() => render('go', '{{ secret "kv/data/app" }}', { ...opts, onCall: (c) => calls.push(c) }));
  assert.equal(calls, []);
});

test("function_denylist: Go's builtins stay, as in consul-template", () => {
  assert.is(render('go', '{{ printf "%s-%d" "a" 1 }}{{ len "abc" }}', { functionDenylist: ['printf', 'len'] }).out, 'a-13');
});

// ---- sandbox_path ----------------------------------------------------------------------------

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'certrender-sandbox-'));
  await mkdir(join(root, 'srv/a/sub'), { recursive: true });
  await mkdir(join(root, 'srv/ab'), { recursive: true });
  await writeFile(join(root, 'srv/a/in.txt'), 'inside');
  await writeFile(join(root, 'srv/a/sub/deep.txt'), 'deep');
  await writeFile(join(root, 'srv/ab/sibling.txt'), 'sibling');
  await writeFile(join(root, 'outside.txt'), 'outside');
  await symlink(join(root, 'outside.txt'), join(root, 'srv/a/escape'));
  await symlink(join(root, 'srv/a/in.txt'), join(root, 'srv/a/alias'));
  await symlink(join(root, 'srv/a'), join(root, 'a-link'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

const call = (engine: EngineName, path: string) => (engine === 'go' ? `{{ file ${JSON.stringify(path)} }}` : `{{ file(${JSON.stringify(path)}) }}`);

for (const engine of ['go', 'nunjucks'] as const) {
  test(`sandbox_path (${engine}): files inside are read, relative paths and symlinks resolved`, () => {
    const opts = { baseDir: root, sandboxPath: 'srv/a' };
    assert.is(render(engine, call(engine, 'srv/a/in.txt'), opts).out, 'inside');
    assert.is(render(engine, call(engine, join(root, 'srv/a/sub/deep.txt')), opts).out, 'deep');
    assert.is(render(engine, call(engine, 'srv/a/alias'), opts).out, 'inside', 'a symlink to a file inside');
    assert.is(render(engine, call(engine, 'a-link/in.txt'), opts).out, 'inside', 'through a symlink to the sandbox');
    assert.is(render(engine, call(engine, 'srv/a/in.txt'), { baseDir: root, sandboxPath: 'a-link' }).out, 'inside', 'a sandbox that is a symlink');
  });

  // [path given to file, relative to root; what the error names]
  const outside: [string, (root: string) => string][] = [
    ['outside.txt', (r) => `file "${join(r, 'outside.txt')}" is outside`],
    ['srv/a/escape', (r) => `file "${join(r, 'srv/a/escape')}" is outside of sandbox_path "${join(r, 'srv/a')}" (it resolves to ${join(r, 'outside.txt')})`],
    ['srv/ab/sibling.txt', (r) => `file "${join(r, 'srv/ab/sibling.txt')}" is outside`],
    ['srv/a/../ab/sibling.txt', (r) => `file "${join(r, 'srv/ab/sibling.txt')}" is outside`],
  ];
  for (const [path, named] of outside) {
    test(`sandbox_path (${engine}): ${path} is refused`, () => {
      const e = failure(engine, call(engine, path), { baseDir: root, sandboxPath: 'srv/a' });
      assert.is(e.code, 'CR_TEMPLATE_FUNCTION');
      assert.ok(e.message.startsWith(`tpl/t.${engine}:`), e.message);
      assert.ok(e.message.includes(named(root)), e.message);
      assert.ok(render(engine, call(engine, path), { baseDir: root }).out.length > 0, 'readable without a sandbox');
    });
  }

  test(`sandbox_path (${engine}): a missing file or sandbox is an error naming it`, () => {
    assert.match(failure(engine, call(engine, 'srv/a/nope.txt'), { baseDir: root, sandboxPath: 'srv/a' }).message, /srv\/a\/nope\.txt": ENOENT/);
    assert.match(failure(engine, call(engine, 'srv/a/in.txt'), { baseDir: root, sandboxPath: 'srv/none' }).message, /sandbox_path "[^"]*srv\/none": ENOENT/);
  });
}

test('sandbox_path does not confine writeToFile, as in consul-template (deny writeToFile to forbid writes)', () => {
  const opts = { baseDir: root, sandboxPath: 'srv/a' };
  const { writes } = render('go', '{{ writeToFile "../../outside-write.txt" "" "" "0600" "x" }}', { ...opts, baseDir: join(root, 'srv/a') });
  assert.equal(writes.map((w) => w.path), [join(root, 'outside-write.txt')]);
  assert.is(failure('go', '{{ writeToFile "srv/a/w.txt" "" "" "0600" "x" }}', { ...opts, functionDenylist: ['writeToFile'] }).code, 'CR_TEMPLATE_FUNCTION');
});

test.run();
