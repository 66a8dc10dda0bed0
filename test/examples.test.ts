/**
 * Every example under examples/ is loaded and run, so none can rot: each
 * `certrender.hcl` runs through `certrender once` (built binary) from a copy of the
 * repository layout, twice (the second run must do nothing), and the systemd unit is
 * checked for what the daemon relies on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/tmp.js';
import { ROOT, runCli } from './helpers/cli.js';

const examples = readdirSync(join(ROOT, 'examples'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

test('there are examples, and each has a certrender.hcl', () => {
  assert.ok(examples.length >= 3, examples.join());
  for (const e of examples) assert.ok(existsSync(join(ROOT, 'examples', e, 'certrender.hcl')), `examples/${e}/certrender.hcl`);
});

for (const name of examples) {
  test(`examples/${name}: once renders, a second once does nothing`, async () => {
    const dir = await makeTempDir(`cr-example-${name}`);
    cpSync(join(ROOT, 'examples', name), join(dir, 'examples', name), { recursive: true, filter: (src) => !/\/(out|state)(\/|$)/.test(src) });
    const config = `examples/${name}/certrender.hcl`;
    const first = await runCli(['once', '--config', config], { cwd: dir, bin: 'dist' });
    assert.is(first.code, 0, first.stdout + first.stderr);
    const second = await runCli(['once', '--config', config], { cwd: dir, bin: 'dist' });
    assert.is(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing to do/);
  });
}

test('examples/shared-keys: rotate-shared-key stages a pending key (public file holds both), --activate switches', async () => {
  const dir = await makeTempDir('cr-example-rotate');
  cpSync(join(ROOT, 'examples/shared-keys'), join(dir, 'examples/shared-keys'), { recursive: true, filter: (src) => !/\/(out|state)(\/|$)/.test(src) });
  const config = ['--config', 'examples/shared-keys/certrender.hcl'];
  const once = () => runCli(['once', ...config], { cwd: dir, bin: 'dist' });
  const pub = () => readFileSync(join(dir, 'examples/shared-keys/out/sa.pub'), 'utf8').match(/BEGIN PUBLIC KEY/g)!.length;
  const key = () => readFileSync(join(dir, 'examples/shared-keys/out/sa.key'), 'utf8');
  assert.is((await once()).code, 0);
  const before = key();
  const staged = await runCli(['rotate-shared-key', 'service-account', ...config], { cwd: dir, bin: 'dist' });
  assert.is(staged.code, 0, staged.stderr);
  assert.match(staged.stdout, /pending key .* added/);
  assert.is((await once()).code, 0);
  assert.is(pub(), 2, 'both public keys trusted');
  assert.is(key(), before, 'still signing with the active key');
  const activated = await runCli(['rotate-shared-key', 'service-account', '--activate', ...config], { cwd: dir, bin: 'dist' });
  assert.is(activated.code, 0, activated.stderr);
  assert.is((await once()).code, 0);
  assert.is(pub(), 1);
  assert.is.not(key(), before, 'the new key is active');
  const unknown = await runCli(['rotate-shared-key', 'nope', ...config], { cwd: dir, bin: 'dist' });
  assert.is.not(unknown.code, 0);
  assert.match(unknown.stderr, /no shared_key "nope"/);
});

test('examples/systemd/certrender.service: Type=notify with NotifyAccess=all, runs the daemon, reloads with SIGHUP', () => {
  const unit = readFileSync(join(ROOT, 'examples/systemd/certrender.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^NotifyAccess=all$/m, 'READY comes from systemd-notify, a child process');
  assert.match(unit, /^ExecStart=\S*certrender run --config /m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

test.run();
