/**
 * Health gates: after a hook, poll until the service is healthy or the gate's deadline
 * passes. `exec` (a command exits 0), `tcp` (connect), `http` (status in a set, optional
 * body match, CA and client cert) and `tls`: complete a handshake and check that the
 * served certificate chains to the expected CA, is valid for the gate's server name, and
 * is the one just written (fingerprint match). Only `tls` proves a service really serves
 * the new certificate, not just that it restarted.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { runCommand } from './run-command.js';

export interface GateSpec {
  type: 'exec' | 'tcp' | 'http' | 'tls';
  /** exec */
  command?: string[];
  shell?: boolean;
  /** tcp, tls: host:port */
  address?: string;
  /** http(s) */
  url?: string;
  status?: number[];
  body_match?: string;
  /** http, tls: CA bundle the served chain must verify against. */
  ca_cert?: string;
  client_cert?: string;
  client_key?: string;
  /** tls: name the certificate must be valid for (default: the host of `address`). */
  server_name?: string;
  /** tls: the certificate file just written; the served leaf must be exactly it. */
  expect_cert?: string;
  /** Milliseconds between attempts, and overall. */
  interval: number;
  timeout: number;
}

export interface GateAttempt {
  ok: boolean;
  detail: string;
}

export interface GateResult {
  ok: boolean;
  attempts: number;
  durationMs: number;
  /** The last attempt's detail: why it passed or failed. */
  detail: string;
}

const ATTEMPT_TIMEOUT_MS = 5000;

function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`gate address "${address}" is not host:port`);
  return { host: m[1], port: Number(m[2]) };
}

const read = (path?: string) => (path ? readFileSync(path) : undefined);

function tcpAttempt(address: string): Promise<GateAttempt> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const s = netConnect({ host, port, timeout: ATTEMPT_TIMEOUT_MS });
    s.once('connect', () => {
      s.destroy();
      resolve({ ok: true, detail: `connected to ${address}` });
    });
    s.once('timeout', () => {
      s.destroy();
      resolve({ ok: false, detail: `timeout connecting to ${address}` });
    });
    s.once('error', (e) => resolve({ ok: false, detail: `${address}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
  });
}

function httpAttempt(g: GateSpec): Promise<GateAttempt> {
  const url = new URL(g.url!);
  const req = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const r = req(
      url,
      { method: 'GET', timeout: ATTEMPT_TIMEOUT_MS, ca: read(g.ca_cert), cert: read(g.client_cert), key: read(g.client_key), servername: g.server_name },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body = (body + c).slice(0, 65536)));
        res.on('end', () => {
          const statusOk = (g.status ?? [200]).includes(res.statusCode ?? 0);
          const bodyOk = g.body_match === undefined || new RegExp(g.body_match).test(body);
          resolve({ ok: statusOk && bodyOk, detail: `HTTP ${res.statusCode}${bodyOk ? '' : `, body does not match /${g.body_match}/`}` });
        });
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (e) => resolve({ ok: false, detail: `${g.url}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
    r.end();
  });
}

function tlsAttempt(g: GateSpec): Promise<GateAttempt> {
  const { host, port } = splitAddress(g.address!);
  const serverName = g.server_name ?? host;
  const expected = g.expect_cert ? new X509Certificate(readFileSync(g.expect_cert)).fingerprint256 : undefined;
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port,
      servername: /^[\d.]+$|:/.test(serverName) ? undefined : serverName,
      ca: read(g.ca_cert),
      cert: read(g.client_cert),
      key: read(g.client_key),
      // We decide below, with a reason for the log, rather than failing the handshake blindly;
      // `authorized` then covers the chain only, the name is checked on its own.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      timeout: ATTEMPT_TIMEOUT_MS,
    });
    const done = (a: GateAttempt) => {
      socket.destroy();
      resolve(a);
    };
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true) as PeerCertificate;
      if (!peer || !peer.raw) return done({ ok: false, detail: 'no certificate served' });
      if (!socket.authorized) return done({ ok: false, detail: `served chain does not verify against ${g.ca_cert ?? 'the system CAs'}: ${socket.authorizationError}` });
      const identity = checkServerIdentity(serverName, peer);
      if (identity) return done({ ok: false, detail: `served certificate is not valid for "${serverName}": ${identity.message}` });
      const served = new X509Certificate(peer.raw).fingerprint256;
      if (expected && served !== expected) return done({ ok: false, detail: `serves ${served}, not the certificate just written (${expected})` });
      done({ ok: true, detail: `serves ${served}${expected ? ' (the certificate just written)' : ''}, valid for "${serverName}"` });
    });
    socket.once('timeout', () => done({ ok: false, detail: `TLS handshake with ${g.address} timed out` }));
    socket.once('error', (e) => done({ ok: false, detail: `${g.address}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
  });
}

async function execAttempt(g: GateSpec, env: NodeJS.ProcessEnv): Promise<GateAttempt> {
  const r = await runCommand({ argv: g.command!, shell: g.shell, timeoutMs: Math.min(g.timeout, 30_000), env });
  return { ok: r.exitCode === 0, detail: r.spawnError ? `cannot start: ${r.spawnError}` : `exit ${r.exitCode ?? r.signal}${r.output ? `: ${r.output.trim().slice(-200)}` : ''}` };
}

export function gateAttempt(g: GateSpec, env: NodeJS.ProcessEnv): Promise<GateAttempt> {
  switch (g.type) {
    case 'tcp':
      return tcpAttempt(g.address!);
    case 'http':
      return httpAttempt(g);
    case 'tls':
      return tlsAttempt(g);
    case 'exec':
      return execAttempt(g, env);
  }
}

/** Poll a gate until it passes or its timeout passes; every attempt is reported. */
export async function pollGate(opts: {
  gate: GateSpec;
  env: NodeJS.ProcessEnv;
  onAttempt?: (n: number, a: GateAttempt) => void;
  sleep?: (ms: number) => Promise<void>;
}): Promise<GateResult> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  const deadline = started + opts.gate.timeout;
  for (let n = 1; ; n++) {
    let a: GateAttempt;
    try {
      a = await gateAttempt(opts.gate, opts.env);
    } catch (e) {
      a = { ok: false, detail: (e as Error).message };
    }
    opts.onAttempt?.(n, a);
    if (a.ok || Date.now() + opts.gate.interval > deadline) {
      return { ok: a.ok, attempts: n, durationMs: Date.now() - started, detail: a.detail };
    }
    await sleep(opts.gate.interval);
  }
}
