/**
 * A real OpenBao dev server per call, for integration tests.
 *
 * Dev mode keeps everything in memory: stop() loses all data (mounts, issuers, tokens),
 * and start() brings back a fresh server on the same address with the same root token
 * and audit file. To make Vault "unreachable" without losing data, use pause()/resume()
 * (SIGSTOP/SIGCONT: connections are accepted by the kernel but never answered).
 * Servers are killed when the test process exits, even on SIGINT/SIGTERM; where
 * /usr/bin/setpriv exists the kernel also kills them if the test process is SIGKILLed.
 * `tls: true` serves https (`bao server -dev-tls`: a CA, certificate and key generated
 * at start, the CA in `caCertPath`); the helper's own requests trust that CA.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { resolveBao } from '../../scripts/provision.mjs';
import { freePort, makeTempDir } from './tmp.js';

export interface BaoResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface AuditFilter {
  operation?: string;
  pathPrefix?: string;
  pathIncludes?: string;
}

export interface OpenBao {
  addr: string;
  token: string;
  auditLogPath?: string;
  /** With tls: the CA (PEM file) that signed the server's certificate. */
  caCertPath?: string;
  /** BAO_ADDR/BAO_TOKEN and their VAULT_* twins, for child processes. */
  env: Record<string, string>;
  /** The server's pid; undefined while stopped. */
  readonly pid: number | undefined;
  /** Runs the bao CLI against this server; a non-zero exit is data, not an exception. */
  bao(args: string[]): Promise<BaoResult>;
  /** HTTP to /v1/<path> with the root token; throws (with `.status`) on non-2xx; null on 204. */
  api(method: string, path: string, body?: unknown): Promise<any>;
  /** Parsed JSON lines of the file audit device (requires auditLog: true). */
  auditEntries(): Promise<any[]>;
  /** Counts audit 'request' entries matching every given field. */
  countRequests(filter: AuditFilter): Promise<number>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP; resolves once the kernel reports the process stopped (SIGSTOP is asynchronous). */
  pause(): Promise<void>;
  resume(): void;
}

const SETPRIV = '/usr/bin/setpriv';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function findBao(): string {
  const bao = resolveBao();
  if (bao) return bao;
  throw new Error(
    'OpenBao binary `bao` not found on PATH or in .cache/openbao: run `node scripts/provision.mjs` (npm test does it for you)',
  );
}

// The caller's environment minus BAO_* and VAULT_* variables, which would leak into servers and CLIs.
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^(BAO|VAULT)_/.test(e[0])),
  );
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Dev mode also binds the cluster listener on port + 1. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await canListen(port + 1))) return port;
  }
}

const alive = (proc?: ChildProcess): proc is ChildProcess => !!proc && proc.exitCode === null && proc.signalCode === null;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One HTTP(S) request; `ca` (PEM) is trusted for https. */
function send(method: string, url: string, headers: Record<string, string>, body: string | undefined, ca?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, headers, ca, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function startOpenBao(opts: { auditLog?: boolean; tls?: boolean } = {}): Promise<OpenBao> {
  const binary = findBao();
  const dir = await makeTempDir('certrender-openbao');
  const token = `root-${randomBytes(12).toString('hex')}`;
  const logPath = join(dir, 'server.log');
  const auditLogPath = opts.auditLog ? join(dir, 'audit.log') : undefined;
  const tlsDir = join(dir, 'tls');
  const caCertPath = opts.tls ? join(tlsDir, 'vault-ca.pem') : undefined;
  const ca = () => (caCertPath && existsSync(caCertPath) ? readFileSync(caCertPath, 'utf8') : undefined);
  if (opts.tls) mkdirSync(tlsDir);
  const configArgs: string[] = opts.tls ? ['-dev-tls', `-dev-tls-cert-dir=${tlsDir}`] : [];
  if (auditLogPath) {
    // OpenBao refuses enabling audit devices through the API: declare it (type, then path).
    const config = join(dir, 'audit.hcl');
    await writeFile(config, `audit "file" "file" {\n  options {\n    file_path = ${JSON.stringify(auditLogPath)}\n  }\n}\n`);
    configArgs.push('-config', config);
  }

  let addr = '';
  let child: ChildProcess | undefined;

  const logTail = async () =>
    (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n').replaceAll(token, '<root-token>');

  async function launch(port: number): Promise<void> {
    const args = ['server', '-dev', '-dev-no-store-token', `-dev-root-token-id=${token}`, `-dev-listen-address=127.0.0.1:${port}`, ...configArgs];
    const [cmd, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', binary, ...args]] : [binary, args];
    const log = openSync(logPath, 'a');
    const proc = spawn(cmd, argv, { stdio: ['ignore', log, log], env: cleanEnv() });
    closeSync(log);
    proc.unref(); // never keeps the test process alive; the exit hook kills it
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    child = proc;
    addr = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!alive(proc)) {
        child = undefined;
        throw new Error(`bao server exited during start-up:\n${await logTail()}`);
      }
      const ok = await send('GET', `${addr}/v1/sys/health`, {}, undefined, ca()).then((r) => r.status === 200, () => false);
      if (ok) return;
      await delay(50);
    }
    proc.kill('SIGKILL');
    child = undefined;
    throw new Error(`bao server not ready after ${READY_TIMEOUT_MS} ms:\n${await logTail()}`);
  }

  // A port can be taken between picking and binding it: retry the first start with another.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch(await freePortPair());
      break;
    } catch (e) {
      if (attempt === 3 || !/address already in use/.test(String(e))) throw e;
    }
  }
  const port = Number(new URL(addr).port);
  const env: Record<string, string> = { BAO_ADDR: addr, BAO_TOKEN: token, VAULT_ADDR: addr, VAULT_TOKEN: token, ...(caCertPath ? { BAO_CACERT: caCertPath, VAULT_CACERT: caCertPath } : {}) };

  const server: OpenBao = {
    addr,
    token,
    auditLogPath,
    caCertPath,
    env,
    get pid() {
      return child?.pid;
    },

    bao: (args) =>
      new Promise((resolve, reject) => {
        execFile(binary, args, { env: { ...cleanEnv(), ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
          if (err && typeof err.code !== 'number') reject(err);
          else resolve({ stdout, stderr, code: err ? (err.code as number) : 0 });
        });
      }),

    async api(method, path, body) {
      const headers = { 'X-Vault-Token': token, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
      const { status, text } = await send(method, `${addr}/v1/${path.replace(/^\/+/, '')}`, headers, body === undefined ? undefined : JSON.stringify(body), ca());
      if (status < 200 || status > 299) {
        throw Object.assign(new Error(`${method} /v1/${path}: HTTP ${status} ${text.trim()}`), { status });
      }
      return text ? JSON.parse(text) : null;
    },

    async auditEntries() {
      if (!auditLogPath) throw new Error('startOpenBao({ auditLog: true }) is needed for audit entries');
      const text = await readFile(auditLogPath, 'utf8');
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    },

    async countRequests({ operation, pathPrefix, pathIncludes }) {
      const entries = await server.auditEntries();
      return entries.filter((e) => {
        const req = e.type === 'request' ? e.request : undefined;
        return (
          req !== undefined &&
          (operation === undefined || req.operation === operation) &&
          (pathPrefix === undefined || req.path.startsWith(pathPrefix)) &&
          (pathIncludes === undefined || req.path.includes(pathIncludes))
        );
      }).length;
    },

    async stop() {
      const proc = child;
      child = undefined;
      if (!alive(proc)) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      proc.kill('SIGCONT'); // a paused server must run to handle SIGTERM
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS); // also keeps the loop alive
      await exited;
      clearTimeout(timer);
    },

    async start() {
      if (!alive(child)) await launch(port);
    },

    async pause() {
      const proc = child;
      if (!alive(proc)) return;
      proc.kill('SIGSTOP');
      // The state follows the parenthesised name in /proc/<pid>/stat; T = stopped.
      const state = () => readFile(`/proc/${proc.pid}/stat`, 'utf8').then((s) => s.split(') ')[1]?.[0], () => 'T');
      while (alive(proc) && (await state()) !== 'T') await delay(5);
    },

    resume() {
      child?.kill('SIGCONT');
    },
  };
  return server;
}
