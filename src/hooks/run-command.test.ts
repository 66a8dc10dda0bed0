import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { hookEnv, runCommand } from './run-command.js';

/** Running (a zombie waiting for a reaper that this container may not have counts as gone). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

test('argv without a shell: arguments are not interpreted', async () => {
  const r = await runCommand({ argv: ['/bin/echo', '$HOME', 'a;b'], timeoutMs: 5000, env: {} });
  assert.is(r.exitCode, 0);
  assert.is(r.output, '$HOME a;b\n');
});

test('shell = true runs through sh -c', async () => {
  const r = await runCommand({ argv: ['echo one && echo two'], shell: true, timeoutMs: 5000, env: { PATH: process.env.PATH } });
  assert.is(r.output, 'one\ntwo\n');
});

test('a hang that leaves a background grandchild holding the output: ends within timeout + grace, nothing left', async () => {
  const script = 'sleep 300 & echo $! ; exec sleep 300';
  const r = await runCommand({ argv: [script], shell: true, timeoutMs: 300, graceMs: 300, env: { PATH: process.env.PATH } });
  assert.ok(r.timedOut);
  const grandchild = Number(r.output.trim());
  assert.ok(grandchild > 0, `grandchild pid printed: ${r.output}`);
  for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((res) => setTimeout(res, 20));
  assert.not.ok(alive(grandchild), 'the background grandchild was killed with the group');
});

test('a hook that exits while its background child keeps stdout open returns at exit; the child (a daemon it started) is left running', async () => {
  const r = await runCommand({ argv: ['sleep 300 & echo $!'], shell: true, timeoutMs: 20_000, env: { PATH: process.env.PATH } });
  assert.is(r.exitCode, 0);
  assert.not.ok(r.timedOut);
  const daemon = Number(r.output.trim());
  assert.ok(alive(daemon));
  process.kill(daemon, 'SIGKILL');
});

test('a command that does not exist reports the spawn error', async () => {
  const r = await runCommand({ argv: ['/nonexistent/hook'], timeoutMs: 1000, env: {} });
  assert.is(r.spawnError, 'ENOENT');
});

test('output is bounded', async () => {
  const r = await runCommand({ argv: ['yes | head -c 100000'], shell: true, timeoutMs: 5000, env: { PATH: process.env.PATH }, maxOutput: 1000 });
  assert.is(r.output.length, 1000);
  assert.ok(r.truncated);
});

test('hook environment: allowlist plus CERTRENDER_CHANGED, secrets dropped', () => {
  const env = hookEnv({ from: { PATH: '/bin', VAULT_TOKEN: 'secret', HOME: '/root' }, changed: ['/a', '/b'] });
  assert.equal(env, { PATH: '/bin', HOME: '/root', CERTRENDER_CHANGED: '/a\n/b' });
});

test.run();
