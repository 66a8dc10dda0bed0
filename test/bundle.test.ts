/**
 * The node-vault bundle (scripts/bundle.mjs) as the Vault thread loads it: in a fresh node,
 * it must not load undici (node 20 loads all of it, ~35 ms, at the first touch of a fetch
 * global, which stock axios does when it loads), and the client it builds must still send a
 * write with its JSON body and read the JSON answer, without loading undici on the way.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';

const CHILD = `
const nodeVault = require(process.argv[1]);
const loadedAtStart = process.moduleLoadList.filter((m) => m.includes('undici'));
const client = nodeVault({ endpoint: process.argv[2], token: 'not-a-real-token' });
client.write('pki/issue/server', { common_name: 'a.example', ttl: '1h' }).then(
  (answer) => {
    const loadedAfter = process.moduleLoadList.filter((m) => m.includes('undici'));
    process.stdout.write(JSON.stringify({ loadedAtStart, loadedAfter, answer }));
  },
  (e) => { process.stderr.write(String(e?.stack ?? e)); process.exitCode = 1; },
);
`;

test('dist/bundle/node-vault.cjs loads without undici and still sends a JSON write and reads its answer', async () => {
  const seen: { method?: string; url?: string; body?: string; token?: string } = {};
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      Object.assign(seen, { method: req.method, url: req.url, body, token: req.headers['x-vault-token'] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { serial_number: '01:02' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', CHILD, join(ROOT, 'dist/bundle/node-vault.cjs'), addr], (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout))),
    );
    const r = JSON.parse(out);
    assert.equal(r.loadedAtStart, [], 'loading the bundle loads no undici');
    assert.equal(r.loadedAfter, [], 'a write with a plain-object body loads no undici');
    assert.equal(r.answer, { data: { serial_number: '01:02' } });
    assert.is(seen.method, 'POST'); // node-vault's write; Vault treats POST and PUT alike
    assert.is(seen.url, '/v1/pki/issue/server');
    assert.equal(JSON.parse(seen.body!), { common_name: 'a.example', ttl: '1h' });
    assert.is(seen.token, 'not-a-real-token');
  } finally {
    server.close();
  }
});

test.run();
