import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import { scratchDir } from '../../test/helpers/scratch-dir.js';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import { type ConfigProblem, COMMAND_LINE, loadConfig } from './load-config.js';

const scratch = scratchDir(test, 'certrender-ct');
const write = scratch.write;
const load = (paths: string[], overlay?: Record<string, unknown>) => loadConfig({ paths, cwd: scratch.path(), env: {}, overlay });
async function refused(p: Promise<unknown>): Promise<ConfigProblem[]> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, CertrenderError);
    assert.is((e as CertrenderError).code, 'CR_CONFIG_INVALID');
    return (e as CertrenderError).context?.problems as ConfigProblem[];
  }
  throw new Error('expected CR_CONFIG_INVALID');
}
const T = 'template {\n  source = "a.tpl"\n  destination = "a.pem"\n}\n';

// [HCL text, path into the loaded config, expected value]
const mapped: [string, (c: any) => unknown, unknown][] = [
  ['vault {\n  vault_agent_token_file = "/run/t"\n}\n', (c) => c.vault.vault_agent_token_file, '/run/t'],
  ['vault {\n  lease_renewal_threshold = 0.9\n}\n', (c) => [c.lease_renewal_threshold, 'lease_renewal_threshold' in c.vault], [0.9, false]],
  ['vault {\n  k8s_auth_role_name = "r"\n  k8s_service_account_token = "jwt"\n  k8s_service_mount_path = "k8s"\n}\n', (c) => c.vault.auth, { method: 'kubernetes', role: 'r', jwt: 'jwt', mount_path: 'k8s', remove_secret_id_file: true, token_path: '/var/run/secrets/kubernetes.io/serviceaccount/token' }],
  ['vault {\n  k8s_auth_role_name = "r"\n  k8s_service_account_token_path = "/t"\n}\n', (c) => [c.vault.auth.token_path, c.vault.auth.mount_path], ['/t', undefined]],
  ['vault {\n  retry {\n    num_retries = 3\n  }\n}\n', (c) => c.vault.retry.attempts, 3],
  ['vault {\n  retry {\n    num_retries = 0\n  }\n}\n', (c) => c.vault.retry.attempts, 12],
  ['vault {\n  retry {\n    num_retries = -1\n  }\n}\n', (c) => c.vault.retry.enabled, false],
  ['vault {\n  unwrap_token = false\n}\n', (c) => 'unwrap_token' in c.vault, false],
  ['once = true\n', (c) => c.once, true],
  ['exit_after_auth = true\n', (c) => c.once, true],
  ['pid_file = "x.pid"\n', (c) => c.pid_file, 'x.pid'],
  ['log_level = "err"\n', (c) => c.log_level, 'error'],
  ['log_level = "INFO"\n', (c) => c.log_level, 'info'],
  ['template_config {\n  static_secret_render_interval = "10m"\n}\n', (c) => c.static_secret_render_interval, 600_000],
  ['template_config {\n  max_connections_per_host = 10\n}\n', (c) => c.max_concurrency, 10],
  ['template_config {\n  max_connections_per_host = 500\n}\n', (c) => c.max_concurrency, 64],
  ['template_config {\n  lease_renewal_threshold = 0.8\n}\n', (c) => c.lease_renewal_threshold, 0.8],
  ['auto_auth {\n  method "token_file" {\n    config {\n      token_file_path = "/t"\n    }\n  }\n}\n', (c) => c.vault.token_file, '/t'],
  ['auto_auth {\n  method {\n    type = "approle"\n    config = {\n      role_id_file_path = "r"\n      secret_id_file_path = "s"\n    }\n  }\n}\n', (c) => c.vault.auth, { method: 'approle', role_id_file: 'r', secret_id_file: 's', remove_secret_id_file: true, token_path: '/var/run/secrets/kubernetes.io/serviceaccount/token' }],
  ['auto_auth {\n  method "kubernetes" {\n    mount_path = "auth/k8s/"\n    config = {\n      role = "web"\n    }\n  }\n}\n', (c) => [c.vault.auth.method, c.vault.auth.mount_path, c.vault.auth.role], ['kubernetes', 'k8s', 'web']],
  ['default_delimiters {\n  left = "[["\n  right = "]]"\n}\n' + T, (c) => [c.template[0].left_delimiter, c.template[0].right_delimiter], ['[[', ']]']],
  ['default_delimiters {\n  left = "[["\n}\ntemplate {\n  source = "a"\n  destination = "b"\n  left_delimiter = "<%"\n}\n', (c) => c.template[0].left_delimiter, '<%'],
  ['template {\n  source = "a"\n  destination = "b"\n  command = "x"\n  exec {\n    command = ["y", "z"]\n    timeout = "5s"\n  }\n}\n', (c) => [c.template[0].command, c.template[0].command_timeout], [['y', 'z'], 5000]],
  ['template {\n  contents = "{{ .x }}"\n  destination = "b"\n}\nonce = true\n', (c) => c.template[0].engine, 'go'],
  ['template {\n  contents = "{{ x }}"\n  destination = "b"\n}\n', (c) => c.template[0].engine, undefined],
  ['template {\n  source = "a"\n  destination = "b"\n  function_denylist = ["plugin", "key", "writeToFile"]\n}\n', (c) => c.template[0].function_denylist, ['plugin', 'key', 'writeToFile']],
  ['template {\n  source = "a"\n  destination = "b"\n  function_blacklist = ["env"]\n}\n', (c) => c.template[0].function_denylist, ['env']],
  ['template {\n  source = "a"\n  destination = "b"\n  function_denylist = ["env"]\n  function_blacklist = ["file"]\n}\n', (c) => c.template[0].function_denylist, ['env', 'file']],
  [T, (c) => [c.template[0].function_denylist, c.template[0].sandbox_path], [[], undefined]],
  ['vault {\n  renew_token = false\n}\n', (c) => c.vault.renew_token, false],
  ['template {\n  source = "a"\n  destination = "b"\n  sandbox_path = "/srv"\n}\n', (c) => c.template[0].sandbox_path, '/srv'],
  // Native keys: they do not make inline contents a Go template; function_blacklist (consul-template's only) does.
  ['template {\n  contents = "{{ x }}"\n  destination = "b"\n  function_denylist = ["env"]\n  sandbox_path = "/srv"\n}\n', (c) => c.template[0].engine, undefined],
  ['template {\n  contents = "{{ .x }}"\n  destination = "b"\n  function_blacklist = ["env"]\n}\n', (c) => c.template[0].engine, 'go'],
];
for (const [text, get, want] of mapped) {
  test(`maps: ${text.split('\n').slice(0, 2).join(' ').trim()}`, async () => {
    const { config, warnings } = await load([await write('c.hcl', text)]);
    assert.equal(get(config), want);
    assert.equal(warnings, []);
  });
}

// [HCL text, the key named, its line]
const warned: [string, string, number][] = [
  ['\nwait {\n  min = "5s"\n}\n', 'wait', 2],
  ['wait = "5s:10s"\n', 'wait', 1],
  ['reload_signal = "SIGHUP"\n', 'reload_signal', 1],
  ['kill_signal = "SIGINT"\n', 'kill_signal', 1],
  ['max_stale = "10m"\n', 'max_stale', 1],
  ['\n\nlog_file {\n  path = "/var/log/ct.log"\n}\n', 'log_file', 3],
  ['syslog {\n  enabled = true\n}\n', 'syslog', 1],
  ['template_error_fatal = true\n', 'template_error_fatal', 1],
  ['err_on_failed_lookup = true\n', 'err_on_failed_lookup', 1],
  ['log_format = "json"\n', 'log_format', 1],
  ['disable_mlock = true\n', 'disable_mlock', 1],
  ['api_proxy {\n  use_auto_auth_token = true\n}\n', 'api_proxy', 1],
  ['telemetry {\n  disable_hostname = true\n}\n', 'telemetry', 1],
  ['cache {\n}\n', 'cache', 1],
  ['listener "tcp" {\n  address = "127.0.0.1:8100"\n}\n', 'listener', 1],
  ['vault {\n  address = "x"\n  default_lease_duration = "5m"\n}\n', 'vault.default_lease_duration', 3],
  ['vault {\n  transport {\n    dial_keep_alive = "10s"\n  }\n}\n', 'vault.transport', 2],
  ['template_config {\n  exit_on_retry_failure = true\n}\n', 'template_config.exit_on_retry_failure', 2],
  ['auto_auth {\n  method "token_file" {\n    config {\n      token_file_path = "/t"\n    }\n  }\n  sink "file" {\n    config {\n      path = "/s"\n    }\n  }\n}\n', 'auto_auth.sink', 7],
  [T + 'template {\n  source = "b"\n  destination = "b.pem"\n  wait {\n    min = "2s"\n  }\n}\n', 'template.1.wait', 8],
  [T.replace('}', '  error_fatal = true\n}'), 'template.0.error_fatal', 4],
  // A name that disables nothing: a typo, or a Go builtin (consul-template ignores both).
  [T.replace('}', '  function_denylist = ["plugin", "sercet"]\n}'), 'template.0.function_denylist.1', 4],
  [T.replace('}', '  function_blacklist = [\n    "env",\n    "printf",\n  ]\n}'), 'template.0.function_blacklist.1', 6],
];
for (const [text, key, line] of warned) {
  test(`warns with file:line: ${key}`, async () => {
    const file = await write('w.hcl', text);
    const { warnings } = await load([file]);
    assert.is(warnings.length, 1, warnings.join('\n'));
    assert.ok(warnings[0].startsWith(`${file}:${line}: ${key}: `), warnings[0]);
  });
}

test('a JSON file warns with its lines too', async () => {
  const file = await write('w.json', '{\n  "vault": { "address": "x" },\n  "kill_signal": "SIGTERM"\n}\n');
  const { warnings } = await load([file]);
  assert.equal(warnings.map((w) => w.split(': ')[0]), [`${file}:3`]);
});

// [HCL text, the key named, its line]
const refusedKeys: [string, string, number][] = [
  ['consul {\n  address = "127.0.0.1:8500"\n}\n', 'consul', 1],
  ['\nnomad {\n  address = "x"\n}\n', 'nomad', 2],
  ['dedup {\n  enabled = true\n}\n', 'dedup', 1],
  ['deduplicate {\n  enabled = true\n}\n', 'deduplicate', 1],
  ['exec {\n  command = "nginx"\n}\n', 'exec', 1],
  ['env_template "X" {\n  contents = "y"\n}\n', 'env_template', 1],
  ['vault {\n  address = "x"\n  unwrap_token = true\n}\n', 'vault.unwrap_token', 3],
  ['template_config {\n  bogus = 1\n}\n', 'template_config.bogus', 2],
  ['auto_auth {\n  method "aws" {\n    config = {\n      role = "x"\n    }\n  }\n}\n', 'auto_auth.method.aws', 2],
  ['auto_auth {\n  method "approle" {\n    config = {\n      role_id_file_path = "r"\n      secret_id_file_path = "s"\n      secret_id_response_wrapping_path = "w"\n    }\n  }\n}\n', 'auto_auth.method.approle.config.secret_id_response_wrapping_path', 6],
  ['auto_auth {\n  method "approle" {\n    wrap_ttl = "5m"\n    config = {\n      role_id_file_path = "r"\n      secret_id_file_path = "s"\n    }\n  }\n}\n', 'auto_auth.method.approle.wrap_ttl', 3],
  [T.replace('}', '  exec {\n    command = "x"\n    env {\n      pristine = true\n    }\n  }\n}'), 'template.0.exec.env', 6],
  [T.replace('}', '  function_denylist = ["env"]\n  function_blacklist = "file"\n}'), 'template.0.function_blacklist', 5],
];
for (const [text, key, line] of refusedKeys) {
  test(`refuses with file:line: ${key}`, async () => {
    const file = await write('r.hcl', text);
    const problems = await refused(load([file]));
    const p = problems.find((q) => q.path === key);
    assert.ok(p, JSON.stringify(problems));
    assert.is(p!.file, file);
    assert.is(p!.line, line);
  });
}

test('an unknown key is still an error naming file, line and key', async () => {
  const file = await write('u.hcl', 'vault {\n  adress = "x"\n}\n');
  const problems = await refused(load([file]));
  assert.equal(problems.map((p) => [p.line, p.path]), [[2, 'vault.adress']]);
});

test('a bad value moved by the mapping is reported at its place in the file', async () => {
  const file = await write('m.hcl', 'template_config {\n  static_secret_render_interval = "soon"\n}\n');
  const problems = await refused(load([file]));
  assert.equal(problems.map((p) => [p.line, p.path]), [[2, 'static_secret_render_interval']]);
});

// ---------------------------------------------------------------- merge rules

test('several files: field by field, right-most wins, templates appended in order', async () => {
  const a = await write('a.hcl', 'vault {\n  address = "https://a:8200"\n  namespace = "ns"\n}\nlog_level = "info"\n' + T);
  const b = await write('b.hcl', 'vault {\n  address = "https://b:8200"\n}\nlog_level = "debug"\ntemplate {\n  source = "b.tpl"\n  destination = "b.pem"\n}\n');
  const { config } = await load([a, b]);
  assert.equal([config.vault?.address, config.vault?.namespace, config.log_level], ['https://b:8200', 'ns', 'debug']);
  assert.equal(config.template.map((t) => t.source), ['a.tpl', 'b.tpl']);
});

test('a directory is walked recursively in lexical order', async () => {
  await write('d/20-b.hcl', 'template {\n  source = "2"\n  destination = "2.pem"\n}\nlog_level = "warn"\n');
  await write('d/10-a.hcl', 'template {\n  source = "1"\n  destination = "1.pem"\n}\nlog_level = "info"\n');
  await write('d/30/x.json', '{ "template": [{ "source": "3", "destination": "3.pem" }] }');
  const { config, files } = await load([join(scratch.path(), 'd')]);
  assert.equal(config.template.map((t) => t.source), ['1', '2', '3']);
  assert.is(config.log_level, 'warn');
  assert.is(files.length, 3);
});

test('a singleton block repeated in one file: the last wins', async () => {
  const f = await write('s.hcl', 'vault {\n  address = "first"\n}\nvault {\n  address = "second"\n}\ntemplate_config {\n  static_secret_render_interval = "1m"\n}\ntemplate_config {\n  static_secret_render_interval = "2m"\n}\ndefault_delimiters {\n  left = "<"\n}\ndefault_delimiters {\n  left = "[["\n}\n' + T);
  const { config } = await load([f]);
  assert.equal([config.vault?.address, config.static_secret_render_interval, config.template[0].left_delimiter], ['second', 120_000, '[[']);
});

test('default_delimiters of one file apply to templates of every file', async () => {
  const a = await write('a.hcl', T);
  const b = await write('b.hcl', 'default_delimiters {\n  left = "[["\n  right = "]]"\n}\n');
  const { config } = await load([a, b]);
  assert.is(config.template[0].left_delimiter, '[[');
});

test('command-line flags win over files; -template appends after the files', async () => {
  const a = await write('a.hcl', 'vault {\n  address = "https://file:8200"\n  token = "from-file"\n}\n' + T);
  const { config, warnings } = await load([a], { vault: { address: 'https://flag:8200' }, wait: '5s', template: [{ source: 'f.tpl', destination: 'f.pem', command: ['reload it'] }] });
  assert.equal([config.vault?.address, config.vault?.token], ['https://flag:8200', 'from-file']);
  assert.equal(config.template.map((t) => t.source), ['a.tpl', 'f.tpl']);
  assert.equal(warnings.map((w) => w.split(': ').slice(0, 2).join(': ')), [`${COMMAND_LINE}: wait`]);
});

test('a refused flag is reported against the command line', async () => {
  const problems = await refused(load([], { consul: { address: 'x' } }));
  assert.equal(problems.map((p) => [p.file, p.path]), [[COMMAND_LINE, 'consul']]);
});

// ---------------------------------------------------------------- real files, unchanged

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/consul-template/', import.meta.url));

test('fixtures: consul-template and Vault Agent files load unchanged', async () => {
  const ct = await load([join(FIXTURES, 'consul-template.hcl')]);
  assert.equal(ct.config.template.map((t) => [t.left_delimiter, t.command, t.command_timeout]), [
    ['[[', 'systemctl reload nginx', 60_000],
    ['{{', ['systemctl', 'restart', 'haproxy'], 15_000],
  ]);
  assert.equal([ct.config.lease_renewal_threshold, ct.config.pid_file, ct.config.vault?.retry?.attempts], [0.9, 'consul-template.pid', 5]);
  assert.is(ct.warnings.length, 9);
  const ctJson = await load([join(FIXTURES, 'consul-template.json')]);
  assert.equal([ctJson.config.once, ctJson.config.log_level, ctJson.config.vault?.auth?.method], [true, 'error', 'kubernetes']);
  const approle = await load([join(FIXTURES, 'agent-approle.hcl')]);
  assert.equal(approle.config.vault?.auth, { method: 'approle', mount_path: 'approle', role_id_file: '/etc/vault/role-id', secret_id_file: '/etc/vault/secret-id', remove_secret_id_file: false, token_path: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
  assert.equal([approle.config.once, approle.config.max_concurrency, approle.config.static_secret_render_interval, approle.config.lease_renewal_threshold], [true, 8, 600_000, 0.75]);
  assert.equal(approle.warnings.map((w) => w.split(': ')[1]).sort(), ['auto_auth.sink', 'cache', 'disable_mlock', 'listener', 'log_format', 'telemetry', 'template_config.exit_on_retry_failure']);
  const k8s = await load([join(FIXTURES, 'agent-kubernetes.json')]);
  assert.equal([k8s.config.once, k8s.config.vault?.auth?.role, k8s.config.vault?.retry?.enabled, k8s.config.template[0].engine], [false, 'web', false, 'go']);
});

test.run();
