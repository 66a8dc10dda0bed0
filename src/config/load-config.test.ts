import { join } from 'node:path';
import { test } from 'uvu';
import { scratchDir } from '../../test/helpers/scratch-dir.js';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import { type ConfigProblem, loadConfig, parseConfigText } from './load-config.js';

const scratch = scratchDir(test, 'certrender-config');
const write = scratch.write;

const load = (paths: string[], env: NodeJS.ProcessEnv = {}) => loadConfig({ paths, cwd: scratch.path(), env });

async function rejects(p: Promise<unknown>): Promise<CertrenderError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, CertrenderError);
    return e as CertrenderError;
  }
  throw new Error('expected a rejection');
}

const problems = (e: CertrenderError) => e.context?.problems as ConfigProblem[];

const HCL = `
vault {
  address = "https://vault:8200"
  retry {
    attempts = 3
    backoff  = "1s"
  }
}
renew { fraction = 0.5 }
max_concurrency = 2
template {
  source      = "cert.tpl"
  destination = "out/cert.pem"
  perms       = 0600
  command     = ["systemctl", "reload", "nginx"]
}
template {
  contents    = <<EOH
{{ with secret "pki/issue/web" }}{{ .Data.certificate }}{{ end }}
EOH
  destination = "out/ca.pem"
}
atomic_dir "/srv/tls" {
  keep = 2
}
`;

const JSON_TEXT = JSON.stringify({
  vault: { address: 'https://vault:8200', retry: { attempts: 3, backoff: '1s' } },
  renew: { fraction: 0.5 },
  max_concurrency: 2,
  template: [
    { source: 'cert.tpl', destination: 'out/cert.pem', perms: '0600', command: ['systemctl', 'reload', 'nginx'] },
    {
      contents: '{{ with secret "pki/issue/web" }}{{ .Data.certificate }}{{ end }}\n',
      destination: 'out/ca.pem',
    },
  ],
  atomic_dir: [{ path: '/srv/tls', keep: 2 }],
});

test('HCL and JSON of the same config give the same object', async () => {
  const hcl = await load([await write('a.hcl', HCL)]);
  const json = await load([await write('b.json', JSON_TEXT)]);
  assert.equal(hcl.config, json.config);
  assert.is(hcl.config.vault?.retry?.attempts, 3);
  assert.is(hcl.config.vault?.retry?.backoff, 1000);
  assert.equal(hcl.config.atomic_dir, [{ path: '/srv/tls', keep: 2 }]);
  assert.is(hcl.config.template.length, 2);
  assert.equal(hcl.files, [join(scratch.path(), 'a.hcl')]);
  assert.is(hcl.baseDir, scratch.path());
  assert.equal(hcl.warnings, []);
});

test('format is detected by content: HCL in a .json file loads as HCL', async () => {
  assert.is(parseConfigText({ text: HCL, file: 'x.json' }).format, 'hcl');
  assert.is(parseConfigText({ text: `\n  ${JSON_TEXT}`, file: 'x.hcl' }).format, 'json');
  const loaded = await load([await write('config.json', HCL)]);
  assert.is(loaded.config.template[0].destination, 'out/cert.pem');
});

test('perms: HCL octal literal and octal string both give 384', async () => {
  const literal = await load([await write('a.hcl', 'template {\n source = "a"\n destination = "b"\n perms = 0600\n}\n')]);
  const string = await load([await write('b.hcl', 'template {\n source = "a"\n destination = "b"\n perms = "0600"\n}\n')]);
  assert.is(literal.config.template[0].perms, 384);
  assert.is(string.config.template[0].perms, 384);
});

test('durations: strings, bare seconds, defaults, and a bad one', async () => {
  const { config } = await load([
    await write('a.hcl', 'static_secret_render_interval = "17520h"\nvault {\n timeout = 10\n retry { max_backoff = "1m30s" }\n}\n'),
  ]);
  assert.is(config.static_secret_render_interval, 17520 * 3600_000);
  assert.is(config.vault?.timeout, 10_000);
  assert.is(config.vault?.retry?.max_backoff, 90_000);
  assert.is(config.vault?.retry?.backoff, 250);
  const e = await rejects(load([await write('b.hcl', 'vault {\n  timeout = "10 parsecs"\n}\n')]));
  assert.is(e.code, 'CR_CONFIG_INVALID');
  assert.equal(
    problems(e).map((p) => [p.path, p.line]),
    [['vault.timeout', 2]],
  );
});

test('two files merge: templates appended, scalars and singleton keys right-most', async () => {
  const a = await write('a.hcl', 'vault {\n address = "https://a"\n namespace = "ns"\n}\ntemplate {\n source = "1"\n destination = "one"\n}\n');
  const b = await write('b.json', '{"vault": {"address": "https://b"}, "template": {"source": "2", "destination": "two"}}');
  const { config, files } = await load(['a.hcl', b]);
  assert.equal(files, [a, b]);
  assert.is(config.vault?.address, 'https://b');
  assert.is(config.vault?.namespace, 'ns');
  assert.equal(
    config.template.map((t) => t.destination),
    ['one', 'two'],
  );
});

test('a singleton repeated in one file: the last block wins', async () => {
  const { config } = await load([await write('a.hcl', 'vault { address = "https://a" }\nvault { namespace = "n" }\n')]);
  assert.is(config.vault?.address, undefined);
  assert.is(config.vault?.namespace, 'n');
});

test('atomic_dir: labelled and unlabelled blocks', async () => {
  const { config } = await load([
    await write('a.hcl', 'atomic_dir "/a" { keep = 3 }\n'),
    await write('b.hcl', 'atomic_dir { path = "/b" }\n'),
  ]);
  assert.equal(config.atomic_dir, [
    { path: '/a', keep: 3 },
    { path: '/b', keep: 1 },
  ]);
});

test('a directory is walked recursively in lexical order', async () => {
  await write('conf.d/20-b.hcl', 'log_level = "warn"\ntemplate {\n source = "b"\n destination = "b"\n}\n');
  await write('conf.d/10-a/x.hcl', 'log_level = "debug"\ntemplate {\n source = "a"\n destination = "a"\n}\n');
  await write('conf.d/30-c.json', '{"log_level": "error"}');
  const { config, files } = await load(['conf.d']);
  assert.equal(files, ['conf.d/10-a/x.hcl', 'conf.d/20-b.hcl', 'conf.d/30-c.json'].map((f) => join(scratch.path(), f)));
  assert.is(config.log_level, 'error');
  assert.equal(
    config.template.map((t) => t.destination),
    ['a', 'b'],
  );
});

test('a missing path is CR_CONFIG_READ naming it', async () => {
  const e = await rejects(load(['nope.hcl']));
  assert.is(e.code, 'CR_CONFIG_READ');
  assert.is(e.context?.file, join(scratch.path(), 'nope.hcl'));
});

test('a syntax error reports file and line', async () => {
  const file = await write('bad.hcl', 'vault {\n  address = "x"\n}\ntemplate {\n  source = "a"\n  destination = ]\n}\n');
  const e = await rejects(load([file]));
  assert.is(e.code, 'CR_CONFIG_INVALID');
  const [p] = problems(e);
  assert.is(p.file, file);
  assert.is(p.line, 6);
  assert.is(p.column, 17);
  assert.ok(e.message.startsWith(`${file}:6:17: `));
});

test('all problems are reported at once, each with key path and line', async () => {
  const file = await write(
    'three.hcl',
    [
      '# three problems', // 1
      'template {', // 2
      '  source      = "a.tpl"', // 3
      '  destination = "/tmp/a"', // 4
      '  backpu      = true', // 5
      '}', // 6
      'template {', // 7
      '  source      = "b.tpl"', // 8
      '  destination = "/tmp/b"', // 9
      '  perms       = "0abc"', // 10
      '}', // 11
      'template {', // 12
      '  contents = "x"', // 13
      '}', // 14
    ].join('\n'),
  );
  const e = await rejects(load([file]));
  assert.is(e.code, 'CR_CONFIG_INVALID');
  const got = problems(e).map((p) => [p.file, p.path, p.line]);
  assert.equal(got, [
    [file, 'template.0.backpu', 5],
    [file, 'template.1.perms', 10],
    [file, 'template.2.destination', 12],
  ]);
  assert.match(problems(e)[0].message, /did you mean "backup"/);
  for (const p of problems(e)) assert.ok(e.message.includes(`${file}:${p.line}: ${p.path}: `));
});

test('problems are attributed to the file that supplied the value, in file and line order', async () => {
  const a = await write(
    'a.hcl',
    'vault {\n  address = "https://a"\n}\ntemplate {\n  source = "a"\n  destination = "a"\n}\nlog_level = "loud"\n',
  );
  const b = await write(
    'b.json',
    '{\n  "vault": {\n    "retry": { "attempts": -1 }\n  },\n  "template": [\n    { "source": "b", "destination": "b" },\n    {\n      "source": "c",\n      "destination": "c",\n      "perms": "999"\n    }\n  ]\n}\n',
  );
  const e = await rejects(load(['a.hcl', 'b.json']));
  assert.equal(
    problems(e).map((p) => [p.file, p.path, p.line]),
    [
      [a, 'log_level', 8],
      [b, 'vault.retry.attempts', 3],
      [b, 'template.2.perms', 10],
    ],
  );
});

test('source and contents both set: an error naming the template index', async () => {
  const file = await write('a.hcl', 'template {\n source = "a"\n destination = "a"\n}\ntemplate {\n source = "b"\n contents = "c"\n destination = "b"\n}\n');
  const e = await rejects(load([file]));
  assert.equal(
    problems(e).map((p) => [p.path, p.line]),
    [['template.1', 5]],
  );
  assert.match(e.message, /template\.1: /);
});

test('local_ca with VAULT_ADDR in the environment: a warning, not an error', async () => {
  const file = await write('a.hcl', 'local_ca {\n  ttl = "24h"\n}\n');
  const { config, warnings } = await load([file], { VAULT_ADDR: 'https://vault:8200' });
  assert.is(config.local_ca?.ttl, 86_400_000);
  assert.equal(warnings, ['local_ca is set: VAULT_ADDR is ignored']);
  assert.equal((await load([file], {})).warnings, []);
});

test('hooks: labelled HCL blocks with a gate give the same record as JSON; errors point into them', async () => {
  const hcl = await write(
    'h.hcl',
    `hook "etcd" {
  command = ["systemctl", "restart", "etcd"]
  order   = 10
  gate {
    type    = "tcp"
    address = "127.0.0.1:2379"
  }
}
hook "kubelet" {
  command = "systemctl restart kubelet"
  order   = 20
}
template {
  contents    = "x"
  destination = "/tmp/x"
  notify      = ["etcd", "kubelet"]
}
`,
  );
  const json = await write(
    'h.json',
    JSON.stringify({
      hook: {
        etcd: { command: ['systemctl', 'restart', 'etcd'], order: 10, gate: { type: 'tcp', address: '127.0.0.1:2379' } },
        kubelet: { command: 'systemctl restart kubelet', order: 20 },
      },
      template: [{ contents: 'x', destination: '/tmp/x', notify: ['etcd', 'kubelet'] }],
    }),
  );
  const a = (await load([hcl])).config;
  assert.equal(a, (await load([json])).config);
  assert.is(a.hook.etcd.gate!.address, '127.0.0.1:2379');
  assert.is(a.hook.etcd.timeout, 60_000);

  const bad = await write('bad.hcl', `hook "etcd" {\n  command = "x"\n  order = 1\n  gate {\n    type = "tls"\n    adress = "h:1"\n  }\n}\n`);
  const e = await rejects(load([bad]));
  assert.equal(
    problems(e).map((p) => [p.path, p.line]),
    [
      ['hook.etcd.gate.address', 4],
      ['hook.etcd.gate.adress', 6],
    ],
  );
});

test.run();
