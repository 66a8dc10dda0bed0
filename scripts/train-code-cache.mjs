// Builds V8 code caches for the bundle (dist/bundle/main.cjs.v8cache, node-vault.cjs.v8cache,
// x509.cjs.v8cache, nunjucks.cjs.v8cache; src/boot/code-cache.ts reads them) by running the built binary with
// CERTRENDER_CODE_CACHE_TRAIN=1 on two runs an operator makes, each cache then holding every
// function those runs compiled. Run by scripts/bundle.mjs, after the bundle is written.
//
// 1. The README's quickstart: a native config on the embedded local CA (nunjucks, the cycle,
//    validation, the swap, @peculiar/x509 for the CA and its certificate).
// 2. A consul-template config with Go templates, `-config ... -once`, against a stand-in for
//    Vault on 127.0.0.1 that answers with the certificate and CA the first run wrote (the
//    HCL front door, the Go template engine, node-vault's request path). A stand-in, not
//    OpenBao: the build must not need a Vault; what it answers only steers which code runs.
//    This run loads main.cjs from the first run's cache, so its cache holds both runs'.
//
// Nothing here is needed for correctness: without a cache, or with one V8 rejects, the
// bundle compiles from source as before. A failed training run fails the build, though:
// it means the binary itself is broken.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/certrender');
const dir = mkdtempSync(join(tmpdir(), 'certrender-train-'));
const TOKEN = 'training-token';
const CACHES = ['main.cjs.v8cache', 'node-vault.cjs.v8cache', 'x509.cjs.v8cache', 'nunjucks.cjs.v8cache'];
/** What the training runs said when a cache could not be written (src/boot/code-cache.ts). */
const cacheErrors = [];

/** Runs the binary (asynchronously: the stand-in Vault below answers from this process). */
function run(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: dir,
      // Vault and OpenBao settings of the machine that builds must not steer the training runs.
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VAULT|BAO)_/.test(k))), CERTRENDER_CODE_CACHE_TRAIN: '1', XDG_STATE_HOME: join(dir, 'xdg'), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 60_000,
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? (cacheErrors.push(...stderr.split('\n').filter((l) => l.startsWith('certrender: cannot write the code cache'))), resolve()) : reject(new Error(`training run certrender ${args.join(' ')} exited ${code ?? signal}:\n${stderr}`))));
  });
}

let server;
try {
  // 1. The quickstart.
  cpSync(join(root, 'examples/quickstart'), join(dir, 'examples/quickstart'), { recursive: true, filter: (src) => !/\/(out|state)(\/|$)/.test(src) });
  await run(['once', '--config', 'examples/quickstart/certrender.hcl']);
  const out = (f) => readFileSync(join(dir, 'examples/quickstart/out', f), 'utf8').trim();
  const ca = out('ca.pem').split(/(?<=-----END CERTIFICATE-----)\n/)[0];
  const [certificate] = out('server.pem').split(/(?<=-----END CERTIFICATE-----)\n/);
  const issued = { certificate, issuing_ca: ca, ca_chain: [ca], private_key: out('server-key.pem'), private_key_type: 'rsa', serial_number: '01', expiration: 0 };

  // 2. A consul-template config against a stand-in Vault.
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = req.url === '/v1/pki/cert/ca' ? { data: { certificate: ca } } : /^\/v1\/pki\/issue\//.test(req.url ?? '') ? { data: issued } : undefined;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { errors: [] }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const addr = `http://127.0.0.1:${server.address().port}`;
  const ct = join(dir, 'ct');
  mkdirSync(ct);
  const call = '"pki/issue/server" "common_name=localhost" "alt_names=server.localhost" "ip_sans=127.0.0.1" "ttl=72h"';
  writeFileSync(join(ct, 'cert.tmpl'), `{{ with secret ${call} }}{{ .Data.certificate }}\n{{ range .Data.ca_chain }}{{ . }}\n{{ end }}{{ end }}`);
  writeFileSync(join(ct, 'key.tmpl'), `{{- /* the key of the same issuance */ -}}\n{{ with secret ${call} }}{{ .Data.private_key }}{{ end }}\n`);
  writeFileSync(
    join(ct, 'config.hcl'),
    `vault {\n  address = "${addr}"\n  renew_token = false\n  retry {\n    attempts = 1\n  }\n}\n` +
      `template {\n  source = "${ct}/cert.tmpl"\n  destination = "${ct}/out/cert.pem"\n  perms = 0644\n}\n` +
      `template {\n  source = "${ct}/key.tmpl"\n  destination = "${ct}/out/key.pem"\n  perms = 0600\n}\n`,
  );
  await run(['-config', join(ct, 'config.hcl'), '-once'], { VAULT_TOKEN: TOKEN });
} finally {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
}
const missing = CACHES.filter((f) => !existsSync(join(root, 'dist/bundle', f)));
if (missing.length) throw new Error(`the training runs wrote no ${missing.join(', ')}${cacheErrors.length ? `:\n${cacheErrors.join('\n')}` : ''}`);
console.log(`wrote dist/bundle/{${CACHES.join(',')}}`);
