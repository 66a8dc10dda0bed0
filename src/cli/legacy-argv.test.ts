import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import { parseLegacyArgv, parseTemplateFlag } from './legacy-argv.js';

const table: [string[], { command: string; config: string[]; overlay?: object; contents?: boolean; level?: string }][] = [
  [['-config', 'x.hcl', '-once'], { command: 'once', config: ['x.hcl'] }],
  [['-config=x.hcl', '-once'], { command: 'once', config: ['x.hcl'] }],
  [['--config', 'x.hcl', '--once'], { command: 'once', config: ['x.hcl'] }],
  [['-config', 'a.hcl', '-config', 'b.hcl', '-dry'], { command: 'plan', config: ['a.hcl', 'b.hcl'], contents: true }],
  [['-once', '-log-level', 'err', '-config', 'x'], { command: 'once', config: ['x'], level: 'error' }],
  [['-config', 'x', '-exit-after-auth'], { command: 'once', config: ['x'] }],
  [['-config', 'x', '-once=false'], { command: 'run', config: ['x'] }],
  [['-config', 'x'], { command: 'run', config: ['x'] }],
  [
    ['-config', 'x', '-once', '-vault-addr', 'https://v:8200', '-vault-token=t', '-vault-retry-attempts', '3', '-vault-ssl-verify=false', '-pid-file', 'p'],
    { command: 'once', config: ['x'], overlay: { vault: { address: 'https://v:8200', token: 't', retry: { attempts: 3 }, ssl: { verify: false } }, pid_file: 'p' } },
  ],
  [
    ['-once', '-template', 'in.tpl:out.pem', '-template=a.tpl:b.pem:systemctl reload nginx', '-wait', '5s:10s'],
    { command: 'once', config: [], overlay: { wait: '5s:10s', template: [{ source: 'in.tpl', destination: 'out.pem' }, { source: 'a.tpl', destination: 'b.pem', command: ['systemctl reload nginx'] }] } },
  ],
  [
    ['-once', '-config', 'x', '-default-left-delimiter', '[[', '-default-right-delimiter', ']]', '-kill-signal', 'SIGTERM'],
    { command: 'once', config: ['x'], overlay: { default_delimiters: { left: '[[', right: ']]' }, kill_signal: 'SIGTERM' } },
  ],
];

for (const [input, want] of table) {
  test(input.join(' '), () => {
    const got = parseLegacyArgv(input)!;
    assert.is(got.command, want.command);
    assert.equal(got.args.config, want.config);
    assert.equal(got.overlay, want.overlay ?? {});
    assert.is(got.args.contents, want.contents);
    assert.is(got.args['log-level'], want.level);
  });
}

test('native forms are left to the native parser', () => {
  for (const argv of [['once', '--config', 'x.hcl'], ['plan', '-c', 'x'], ['status', '--json', '-c', 'x'], ['--help'], ['-h'], ['--version'], ['--config', 'x', 'once'], []]) {
    assert.is(parseLegacyArgv(argv), undefined, argv.join(' '));
  }
});

const usage = (argv: string[]): string => {
  try {
    parseLegacyArgv(argv);
  } catch (e) {
    assert.instance(e, CertrenderError);
    assert.is((e as CertrenderError).code, 'CR_USAGE');
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

test('refused and unknown flags are usage errors naming the flag', () => {
  assert.match(usage(['-config', 'x', '-exec', 'nginx']), /-exec is not supported: process supervision/);
  assert.match(usage(['-exec-kill-signal=SIGTERM']), /-exec-kill-signal/);
  assert.match(usage(['-consul-addr', 'c:8500']), /-consul-addr is not supported: Consul/);
  assert.match(usage(['-config', 'x', '-bogus']), /not defined: -bogus/);
  assert.match(usage(['-config']), /needs an argument: -config/);
  assert.match(usage(['-once=maybe']), /invalid boolean/);
  assert.match(usage(['-vault-retry-attempts', 'x']), /invalid integer/);
  assert.match(usage(['-config', 'x', 'stray']), /unexpected argument "stray"/);
  assert.match(usage(['-log-level', 'loud']), /unknown level/);
});

test('-template splits as consul-template does (a drive letter stays with its path)', () => {
  assert.equal(parseTemplateFlag('in.tpl'), { source: 'in.tpl' });
  assert.equal(parseTemplateFlag('/a/in.tpl:/b/out.pem'), { source: '/a/in.tpl', destination: '/b/out.pem' });
  assert.equal(parseTemplateFlag('in:out:cmd:with:colons'), { source: 'in', destination: 'out', command: ['cmd:with:colons'] });
  assert.equal(parseTemplateFlag('C:\\in.tpl:D:\\out.pem'), { source: 'C:\\in.tpl', destination: 'D:\\out.pem' });
});

test.run();
