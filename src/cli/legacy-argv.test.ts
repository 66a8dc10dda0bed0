import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { translateLegacyArgv } from './legacy-argv.js';

const table: [string[], string[]][] = [
  [['-config', 'x.hcl', '-once'], ['once', '--config', 'x.hcl']],
  [['-config=x.hcl', '-once'], ['once', '--config=x.hcl']],
  [['--config', 'x.hcl', '--once'], ['once', '--config', 'x.hcl']],
  [['-config', 'a.hcl', '-config', 'b.hcl', '-dry'], ['plan', '--config', 'a.hcl', '--config', 'b.hcl', '--contents']],
  [['-once', '-log-level', 'debug', '-config', 'x'], ['once', '--log-level', 'debug', '--config', 'x']],
  // native forms are untouched
  [['once', '--config', 'x.hcl'], ['once', '--config', 'x.hcl']],
  [['plan', '-c', 'x.hcl'], ['plan', '-c', 'x.hcl']],
  [['status', '--json', '-c', 'x'], ['status', '--json', '-c', 'x']],
  // a value that looks like a flag after --
  [['once', '--', '-x'], ['once', '--', '-x']],
];

for (const [input, expected] of table) {
  test(`${input.join(' ')} -> ${expected.join(' ')}`, () => {
    assert.equal(translateLegacyArgv(input), expected);
  });
}

test.run();
