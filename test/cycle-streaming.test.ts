/**
 * A group is finished (validated, swapped) as soon as its own issuance is in, while the
 * others are still in flight; templates that call writeToFile wait for the last answer.
 * Real OpenBao, real certrender process; a node:http proxy in front of OpenBao holds the
 * answer to one issuance ("slow") and watches the disk while it does.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { startOpenBao, type OpenBao } from './helpers/openbao.js';
import { setupPki } from './helpers/openbao-pki.js';
import { makeTempDir } from './helpers/tmp.js';
import { writeTree } from './helpers/cycle.js';
import { logEvents, startCli } from './helpers/cli.js';

const ctx: { bao?: OpenBao } = {};
const test = suite('a group is written as soon as its issuance is in');

test.before(async () => {
  ctx.bao = await startOpenBao();
  await setupPki(ctx.bao);
});
test.after(async () => {
  await ctx.bao?.stop();
});

/**
 * Forwards to OpenBao; the answer to the first issuance whose body names `slow.example` is
 * held until `release()` resolves (a retry of it would pass).
 */
async function holdingProxy(target: string, release: () => Promise<void>): Promise<{ server: Server; addr: string; held: () => number }> {
  let held = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = request(target + req.url, { method: req.method, headers: req.headers }, (ur) => {
        const answer: Buffer[] = [];
        ur.on('data', (c: Buffer) => answer.push(c));
        ur.on('end', async () => {
          if (body.includes('slow.example') && held === 0) {
            held++;
            await release();
          }
          res.writeHead(ur.statusCode!, ur.headers);
          res.end(Buffer.concat(answer));
        });
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `http://127.0.0.1:${(server.address() as { port: number }).port}`, held: () => held };
}

const until = async (cond: () => boolean, limitMs: number): Promise<boolean> => {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

async function fixture(addr: string, fastTemplate: string): Promise<string> {
  const dir = await makeTempDir('cr-stream');
  const issue = (name: string) => `secret("pki/issue/server", "common_name=${name}.example", "ttl=1h")`;
  await writeTree(dir, {
    'certrender.hcl': `
state_dir = "state"
vault {
  address = "${addr}"
  token   = "${ctx.bao!.token}"
}
template {
  contents    = "{{ ${issue('slow').replace(/"/g, '\\"')}.Data.certificate }}"
  destination = "out/slow.crt"
}
template {
  contents    = "{{ ${issue('slow').replace(/"/g, '\\"')}.Data.private_key }}"
  destination = "out/slow.key"
}
${fastTemplate}
`,
  });
  return dir;
}

function assertPair(dir: string, name: string) {
  const cert = new X509Certificate(readFileSync(join(dir, `out/${name}.crt`)));
  assert.ok(cert.subject.includes(`CN=${name}.example`), `${name}.crt is ${name}'s certificate: ${cert.subject}`);
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, `out/${name}.key`)))), `${name}.key matches ${name}.crt`);
}

test('while the slow issuance is held, the fast group is already on disk, whole; then the slow one follows', async () => {
  let dir = '';
  let fastSeenWhileHeld = false;
  let slowSeenWhileHeld = true;
  const proxy = await holdingProxy(ctx.bao!.addr, async () => {
    fastSeenWhileHeld = await until(() => existsSync(join(dir, 'out/fast.crt')) && existsSync(join(dir, 'out/fast.key')), 20_000);
    slowSeenWhileHeld = existsSync(join(dir, 'out/slow.crt')) || existsSync(join(dir, 'out/slow.key'));
  });
  try {
    const fast = (f: string) => `{{ secret(\\"pki/issue/server\\", \\"common_name=fast.example\\", \\"ttl=1h\\").Data.${f} }}`;
    dir = await fixture(proxy.addr, `template {\n  contents = "${fast('certificate')}"\n  destination = "out/fast.crt"\n}\ntemplate {\n  contents = "${fast('private_key')}"\n  destination = "out/fast.key"\n}\n`);
    const r = await startCli(['once', '-c', 'certrender.hcl'], { cwd: dir }).done;
    assert.is(r.code, 0, r.stderr);
    assert.is(proxy.held(), 1, 'the slow issuance went through the proxy once');
    assert.ok(fastSeenWhileHeld, 'fast.crt and fast.key were written while the slow answer was held');
    assert.not.ok(slowSeenWhileHeld, 'nothing of the slow group was written before its answer');
    assertPair(dir, 'fast');
    assertPair(dir, 'slow');
    const written = logEvents(r.stderr).filter((e) => e.event === 'group_written');
    assert.is(written.length, 2, 'two groups reported written');
  } finally {
    proxy.server.close();
  }
});

test('a template that calls writeToFile is finished after the last answer, with its writeToFile target', async () => {
  let dir = '';
  let stderr = '';
  let fastSeenWhileHeld = true;
  const proxy = await holdingProxy(ctx.bao!.addr, async () => {
    // Hold until the fast issuance is stored, then give a wrongly early swap time to show.
    await until(() => logEvents(stderr.slice(0, stderr.lastIndexOf('\n') + 1)).some((e) => e.event === 'issuance_issued' && e.destinations?.some((d: string) => d.endsWith('fast.crt'))), 20_000);
    await until(() => existsSync(join(dir, 'out/fast.crt')) || existsSync(join(dir, 'out/fast.key')), 1_500);
    fastSeenWhileHeld = existsSync(join(dir, 'out/fast.crt')) || existsSync(join(dir, 'out/fast.key'));
  });
  try {
    const bundle = `{% set s = secret(\\"pki/issue/server\\", \\"common_name=fast.example\\", \\"ttl=1h\\") %}{{ writeToFile(\\"out/fast.key\\", \\"\\", \\"\\", \\"0600\\", s.Data.private_key) }}{{ s.Data.certificate }}`;
    dir = await fixture(proxy.addr, `template {\n  contents = "${bundle}"\n  destination = "out/fast.crt"\n}\n`);
    const started = startCli(['once', '-c', 'certrender.hcl'], { cwd: dir });
    started.child.stderr!.on('data', (c) => (stderr += c));
    const r = await started.done;
    assert.is(r.code, 0, r.stderr);
    assert.is(proxy.held(), 1, 'the slow issuance went through the proxy once');
    assert.not.ok(fastSeenWhileHeld, 'the writeToFile template was not written before the last answer');
    assertPair(dir, 'fast');
    assertPair(dir, 'slow');
  } finally {
    proxy.server.close();
  }
});

test.run();
