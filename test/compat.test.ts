/**
 * consul-template golden cases (test/compat/<case>/): each config and its Go templates,
 * unchanged, rendered by `certrender -config config.hcl -once` (Go-style flags, as fleets'
 * systemd units call consul-template) as a real process against a real OpenBao; the
 * files must be what expected.json says, and a second run must issue nothing (audit log)
 * and leave every file byte-identical.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { makeTempDir } from './helpers/tmp.js';
import { logEvents, runCli } from './helpers/cli.js';
import { applySetup, checkFiles, issueWrites, loadCases, renderedFiles, workDir } from './compat/compat-case.js';

const ctx: { bao?: OpenBao } = {};
const test = suite('consul-template golden cases, certrender against OpenBao');

test.before(async () => {
  ctx.bao = await startOpenBao({ auditLog: true });
});
test.after(async () => {
  await ctx.bao?.stop();
});

for (const c of loadCases()) {
  test(`${c.name}: renders the expected files; a second run issues nothing and changes nothing`, async () => {
    const bao = ctx.bao!;
    const cas = await applySetup(bao, c.setup);
    const dir = await workDir(c, bao.addr);
    // No state_dir in a consul-template config: certrender's default location, under a temp XDG_STATE_HOME.
    const env = { VAULT_TOKEN: bao.token, XDG_STATE_HOME: await makeTempDir('compat-state'), ...c.setup.env };
    const run = () => runCli(['-config', 'config.hcl', '-once'], { cwd: dir, env });

    const before = await issueWrites(bao);
    const first = await run();
    assert.is(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.is((await issueWrites(bao)) - before, c.expected.issues, 'issue writes of the first run (identical calls shared)');
    assert.equal(checkFiles({ dir, expected: c.expected.files, cas }), []);
    const warned = logEvents(first.stderr).filter((e) => e.level === 'warn' && typeof e.destination === 'string');
    for (const [name, want] of Object.entries(c.expected.files)) {
      const named = warned.some((e) => e.destination === join(dir, name));
      assert.is(named, Boolean(want.warning), `a warning for ${name}: ${want.warning ? 'expected' : 'none expected'}`);
    }

    const files = renderedFiles(dir);
    const second = await run();
    assert.is(second.code, 0, `${second.stdout}\n${second.stderr}`);
    assert.is((await issueWrites(bao)) - before, c.expected.issues, 'the second run issued nothing');
    assert.equal(renderedFiles(dir), files, 'every file byte-identical after the second run');
  });
}

test.run();
