import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CertrenderError } from '../errors.js';
import { type HclPathSegment, parseHcl1, pathKey } from './hcl1-parser.js';

// js-hcl-parser (hashicorp/hcl v1 compiled by GopherJS) is the oracle: same value, as JSON.
const oracle = createRequire(import.meta.url)('js-hcl-parser') as { parse(text: string): string };

function oracleValue(text: string): unknown {
  let out: string;
  try {
    out = oracle.parse(text);
  } catch (e) {
    return `oracle panicked: ${String(e)}`;
  }
  try {
    return JSON.parse(out);
  } catch {
    return `oracle error: ${out}`;
  }
}

const CONSUL_TEMPLATE = `
# consul-template, the way fleets write it
vault {
  address     = "https://vault.example.com:8200"
  renew_token = false
  namespace   = "team-a"

  ssl {
    enabled = true
    verify  = true
    ca_cert = "/etc/ssl/ca.pem"
  }

  retry {
    enabled     = true
    attempts    = 5
    backoff     = "250ms"
    max_backoff = "1m"
  }
}

log_level = "info"
wait {
  min = "5s"
  max = "10s"
}

template {
  source          = "/etc/ct/cert.tpl"
  destination     = "/etc/ssl/cert.pem"
  perms           = 0644
  command         = "systemctl reload nginx || (sleep 1 && systemctl restart \\"nginx\\")"
  command_timeout = "30s"
  backup          = true
  left_delimiter  = "[["
  right_delimiter = "]]"
}

template {
  contents = <<EOH
{{ with secret "pki/issue/web" "common_name=web.example.com" "ttl=72h" }}
{{ .Data.certificate }}
{{ .Data.issuing_ca }}{{ end }}
EOH
  destination = "/etc/ssl/chain.pem"
  exec {
    command = ["/bin/sh", "-c", "kill -HUP $(cat /run/nginx.pid)"]
    timeout = "10s"
  }
}

template {
  contents    = <<-EOT
    {{- with secret "pki/issue/web" "common_name=\${HOSTNAME}" -}}
    {{ .Data.private_key }}
    {{- end }}
    EOT
  destination = "/etc/ssl/key.pem"
  perms       = 0600
  error_on_missing_key = true
}
`;

const VAULT_AGENT = `
pid_file        = "./pidfile"
exit_after_auth = false

vault {
  address         = "https://127.0.0.1:8200"
  tls_skip_verify = false
}

auto_auth {
  method "approle" {
    mount_path = "auth/approle"
    config = {
      role_id_file_path                   = "/etc/vault/role-id"
      secret_id_file_path                 = "/etc/vault/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }

  sink "file" {
    wrap_ttl = "5m"
    config = {
      path = "/run/vault/token"
      mode = 0640
    }
  }
  sink "file" { config = { path = "/tmp/second" } }
}

cache {
  use_auto_auth_token = true
}

listener "tcp" {
  address     = "127.0.0.1:8100"
  tls_disable = true
}

template_config {
  static_secret_render_interval = "10m"
  exit_on_retry_failure         = true
}

template {
  source      = "/etc/vault/agent/cert.ctmpl"
  destination = "/etc/ssl/agent.pem"
}
`;

const CORPUS: Record<string, string> = {
  'empty file': '',
  'only comments': '# a\n// b\n/* c\n d */\n',
  'scalars': 'a = 1\nb = "two"\nc = true\nd = false\ne = 1.5\n',
  'unlabelled block': 'a { b = 1 }',
  'labelled block nests': 'a "x" { b = 1 }',
  'two labels': 'a "x" "y" { b = 1 }',
  'ident and string labels': 'a "b" c "d" { e = 1 }',
  'repeated blocks append': 'a { b = 1 }\na { c = 2 }',
  'repeated labelled blocks': 'a "x" { p = 1 }\na "x" { q = 2 }\na "y" "z" {}',
  'blocks nested in blocks': 'a {\n  b "c" { d = 1 }\n  b "e" {}\n  f { g { h = "i" } }\n}',
  'object assignment is a block': 'x = { a = 1 }\ny { a = 1 }',
  'repeated scalar: last wins': 'x = 1\nx = 2\ns = "a"\ns = "b"',
  'repeated scalar converts to the first type': 'i = 1\ni = "0x10"\ns = "a"\ns = 0644\nt = "a"\nt = true\nb = true\nb = "0"\nf = 1.5\nf = 7',
  'repeated lists append': 'x = [1]\nx = [2, 3]',
  'list then block appends a map': 'x = [1]\nx { a = 1 }',
  'block then list of objects appends': 'x { a = 1 }\nx = [{ b = 2 }]',
  'list values': 'a = [1, "b", true, 1.5, [2, [3]], { c = 3 }]',
  'objects in lists are maps, nested objects are lists': 'x = [{ a = { b = 1 } }, { c = [{ d = 2 }] }]',
  'trailing, leading and repeated commas': 'x = [,1,,2,]\ny = [\n  "a",\n  "b",\n]',
  'nested lists need no comma': 'x = [[1][2] 3]',
  'commas between items': 'x = 1, y = 2\na { b = 1, c = 2, }',
  'octal, hex, signs': 'o = 0644\np = 0600\nz = 00\nn = -0644\nh = 0x1F\nH = 0XfF\nm = -0x10\nd = -5\nbig = 2147483647',
  'floats': 'a = .5\nb = 1e3\nc = 1.\nd = 1.5e-3\ne = 1E2\nf = -1.5\ng = 09.5\nh = 0.0',
  'string escapes': 'a = "q\\"q"\nb = "back\\\\slash"\nc = "\\n\\t\\r\\a\\b\\f\\v"\nd = "\\u00e9\\U0001F600\\x41\\101"',
  'byte escapes are UTF-8 bytes': 'a = "\\xc3\\xa9"\nb = "\\xff"\nc = "\\xe2\\x82z"\nd = "\\ud800"',
  'interpolation is kept literally': 'a = "${var.x}"\nb = "$${a}"\nc = "x${f("a\\"b")}y"\nd = "${a} }"\ne = "${a(\n1)}"\nf = "\\"${a}\\""',
  'quotes inside interpolation': 'cmd = "${replace("a\\"b", "\\"", "")}"\nx = "${lookup(map, "k")}"',
  'heredoc': 'a = <<EOF\nline 1\n  line 2\nEOF\nb = 1\n',
  'heredoc with an indented close': 'a = <<EOF\nhello\n    EOF\n',
  'empty heredoc and a near-marker line': 'a = <<EOF\nEOF\nb = <<EOF\nEOFX\nEOF\n',
  'indented heredoc strips the closing indent': 'a = <<-EOT\n    x\n      y\n    EOT\nb = <<-EOT\n\tz\n\tEOT\n',
  'indented heredoc with a shallower line keeps it': 'a = <<-EOT\n    x\n  y\n    EOT\nb = <<-EOT\n  c\n\n  EOT\n',
  'heredoc in a list': 'x = [<<EOF\na\nEOF\n, 2]',
  'CRLF line endings': 'a = 1\r\nb = <<EOF\r\nx\r\nEOF\r\nc { d = "e" }\r\n',
  'quoted keys': '"a.b" = 1\n"${x}" = 2\n"" = 3\nq "" {}',
  'identifier characters': 'a-b.c = 1\n_x = 2\né = 3',
  '__proto__ is a plain key': '__proto__ = 1',
  'comments everywhere': 'a = [\n  # c\n  1, // d\n  /* e */ 2,\n]\nb { # f\n  c = 1 /* g */\n}\n',
  'tokens need no spaces': 'x=-0\ny={a=1}\nz=[1,2]',
  'labelled keys fold case like HCL1': 'a "x" {}\nA "y" {}',
  'consul-template config': CONSUL_TEMPLATE,
  'vault agent config': VAULT_AGENT,
};

for (const [name, text] of Object.entries(CORPUS)) {
  test(`same value as js-hcl-parser: ${name}`, () => {
    const expected = oracleValue(text);
    assert.type(expected, 'object', String(expected));
    assert.equal(parseHcl1(text, 'f.hcl').value, expected);
  });
}

test('the corpus covers the shapes the brief lists', () => {
  assert.ok(Object.keys(CORPUS).length >= 30);
  const { value } = parseHcl1(VAULT_AGENT, 'agent.hcl');
  assert.equal(value.auto_auth, [
    {
      method: [
        {
          approle: [
            {
              mount_path: 'auth/approle',
              config: [
                {
                  role_id_file_path: '/etc/vault/role-id',
                  secret_id_file_path: '/etc/vault/secret-id',
                  remove_secret_id_file_after_reading: false,
                },
              ],
            },
          ],
        },
      ],
      sink: [{ file: [{ wrap_ttl: '5m', config: [{ path: '/run/vault/token', mode: 0o640 }] }] }, { file: [{ config: [{ path: '/tmp/second' }] }] }],
    },
  ]);
  const ct = parseHcl1(CONSUL_TEMPLATE, 'ct.hcl').value as { template: { perms?: number; contents?: string }[] };
  assert.is(ct.template[0].perms, 420);
  assert.is(ct.template[2].contents, '{{- with secret "pki/issue/web" "common_name=${HOSTNAME}" -}}\n{{ .Data.private_key }}\n{{- end }}\n');
});

// hashicorp/hcl v1 on a 64-bit Go build reads ints as int64; GopherJS's int is 32 bits.
test('js-hcl-parser is wrong: ints above 2^31-1 are valid HCL1', () => {
  assert.match(String(oracleValue('x = 3000000000')), /out of range/);
  assert.equal(parseHcl1('x = 3000000000\ny = -0x80000000', 'f').value, { x: 3000000000, y: -2147483648 });
  assertSyntaxError('x = 9223372036854775808', 1, 5, /out of range/);
});

// hcl v1 silently drops a top-level `key =` at the end of the file; that is a typo, not a config.
test('js-hcl-parser is lax: a dangling `key =` at the end is an error here', () => {
  assert.equal(oracleValue('a = 1\nb ='), { a: 1 });
  assertSyntaxError('a = 1\nb =', 2, 4, /expected a value after 'b =', found end of file/);
});

test('invalid input the oracle also rejects', () => {
  for (const text of ['a "x" {}\na {}', 'x = 1\nx = 1.5', 'x = [1 2]', 'true = 1', 'x = 08', 'x = "\\777"', 'x = <<-EOF\na\nEOF\n', 'a b = 1']) {
    assert.type(oracleValue(text), 'string', text);
    assert.throws(() => parseHcl1(text, 'f'), (e: unknown) => e instanceof CertrenderError && e.code === 'CR_CONFIG_INVALID');
  }
});

function assertSyntaxError(text: string, line: number, column: number, message: RegExp): void {
  try {
    parseHcl1(text, 'dir/f.hcl');
  } catch (e) {
    assert.instance(e, CertrenderError);
    const err = e as CertrenderError;
    assert.is(err.code, 'CR_CONFIG_INVALID');
    const [p] = err.context?.problems as { file: string; line: number; column: number; path: string; message: string }[];
    assert.equal([p.file, p.line, p.column, p.path], ['dir/f.hcl', line, column, ''], err.message);
    assert.ok(err.message.startsWith(`dir/f.hcl:${line}:${column}: syntax error: `), err.message);
    assert.match(p.message, /^syntax error: /);
    assert.match(p.message, message);
    return;
  }
  assert.unreachable(`no syntax error for ${JSON.stringify(text)}`);
}

test('syntax errors point at the offending token', () => {
  assertSyntaxError('a = 1\nb = "abc\nc = 2\n', 2, 5, /unterminated string/);
  assertSyntaxError('vault {\n  address = "x"\n\ntemplate {\n  source = "a"\n}\n', 1, 7, /expected '}' to close this block, found end of file/);
  assertSyntaxError('template {\n  source = }\n', 2, 12, /expected a value after 'source =', found '}'/);
  assertSyntaxError('template {\n  contents = <<EOT\nabc\n}\n', 2, 14, /unterminated heredoc: expected a line 'EOT'/);
  assertSyntaxError('a = 1\n  b @ 2\n', 2, 5, /unexpected character '@'/);
  assertSyntaxError('a = <<-EOT\nx\nEOT\n', 1, 5, /closing marker indented/);
  assertSyntaxError('a = "x\\qy"', 1, 7, /invalid escape '\\q'/);
  assertSyntaxError('a = [1,\n  2\n', 1, 5, /expected '\]' to close this list/);
  assertSyntaxError('a = [1 2]', 1, 8, /expected ',' or '\]' after a list item, found '2'/);
  assertSyntaxError('a {\n  b\n}\n', 3, 1, /expected '=' or '\{' after 'b', found '\}'/);
  assertSyntaxError('}\n', 1, 1, /expected a key, found '\}'/);
  assertSyntaxError('a "x" = 1', 1, 7, /expected '\{' after the block labels/);
  assertSyntaxError('x = 1\n/* open', 2, 1, /unterminated comment/);
  assertSyntaxError('x = 0x', 1, 5, /hexadecimal/);
  assertSyntaxError('a = b', 1, 5, /expected a value after 'a =', found 'b'/);
  assertSyntaxError('a = 1 / 2', 1, 7, /unexpected character '\/'/);
});

test('labelled and unlabelled blocks of one key: an error at the unlabelled one', () => {
  assertSyntaxError('atomic_dir "/a" {}\n\n  atomic_dir { keep = 1 }\n', 3, 3, /'atomic_dir' is used both with and without labels/);
});

test('positions of keys and list items in a nested config', () => {
  const text = [
    'vault {', // 1
    '  retry { attempts = 3 }', // 2
    '}', // 3
    'template {', // 4
    '  source  = "a"', // 5
    '  command = ["x",', // 6
    '    "y"]', // 7
    '}', // 8
    'template {', // 9
    '  perms = 0600', // 10
    '  perms = 0644', // 11
    '}', // 12
    'atomic_dir "/srv" { keep = 2 }', // 13
    'x = [{ a = 1 }]', // 14
  ].join('\n');
  const { positions } = parseHcl1(text, 'f');
  const at = (...path: HclPathSegment[]) => {
    const p = positions.get(pathKey(path));
    return p && [p.line, p.column];
  };
  assert.equal(at('vault'), [1, 1]);
  assert.equal(at('vault', 0), [1, 1]);
  assert.equal(at('vault', 0, 'retry', 0, 'attempts'), [2, 11]);
  assert.equal(at('template'), [4, 1]);
  assert.equal(at('template', 1), [9, 1]);
  assert.equal(at('template', 0, 'source'), [5, 3]);
  assert.equal(at('template', 0, 'command', 1), [7, 5]);
  assert.equal(at('template', 1, 'perms'), [11, 3]);
  assert.equal(at('atomic_dir', 0, '/srv'), [13, 12]);
  assert.equal(at('atomic_dir', 0, '/srv', 0, 'keep'), [13, 21]);
  assert.equal(at('x', 0), [14, 6]);
  assert.equal(at('x', 0, 'a'), [14, 8]);
  assert.is(at('template', 2), undefined);
});

test.run();
