import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fastParse } from './options.js';

test('common invocations parse without yargs', () => {
  assert.equal(fastParse(['once', '-c', 'a.hcl', '--config=b.hcl', '--json', '--force-renew', 'all']), {
    command: 'once',
    args: { config: ['a.hcl', 'b.hcl'], json: true, 'force-renew': ['all'] },
  });
  assert.equal(fastParse(['plan', '--config', 'x', '--contents', '--log-level', 'warn', '--state-dir', '/s']), {
    command: 'plan',
    args: { config: ['x'], contents: true, 'log-level': 'warn', 'state-dir': '/s' },
  });
});

test('anything else goes to yargs (help, version, typos, options of another command, bad choices, no config)', () => {
  for (const argv of [
    ['--help'],
    ['once', '--help'],
    ['--version'],
    ['onc', '-c', 'x'],
    ['once', '-c', 'x', '--contents'],
    ['status', '-c', 'x', '--force-renew', 'all'],
    ['once', '-c', 'x', '--log-level', 'loud'],
    ['once'],
    ['once', '-c', 'x', 'extra'],
  ]) {
    assert.is(fastParse(argv), undefined, argv.join(' '));
  }
});

test.run();
