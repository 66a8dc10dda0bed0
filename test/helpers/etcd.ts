/**
 * A real etcd (Debian's etcd-server 3.4, provisioned into .cache/etcd by
 * scripts/provision.mjs) serving TLS on 127.0.0.1, started and restarted through a
 * shell script the way a hook would restart it. etcd is started with setsid, so it
 * outlives the hook's process group (as a systemd-managed etcd would).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveEtcd } from '../../scripts/provision.mjs';
import { freePort } from './tmp.js';

export interface Etcd {
  clientPort: number;
  /** `sh <this>` (re)starts etcd with the certificate files as they are now on disk. */
  restartScript: string;
  pid(): number | undefined;
  stop(): void;
}

const running = new Set<() => void>();
process.on('exit', () => {
  for (const stop of running) stop();
});

export async function prepareEtcd(opts: { dir: string; certFile: string; keyFile: string; caFile: string }): Promise<Etcd> {
  const bin = resolveEtcd();
  if (!bin) throw new Error('etcd not found: run `node scripts/provision.mjs` (Debian etcd-server into .cache/etcd)');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const pidFile = join(opts.dir, 'etcd.pid');
  const logFile = join(opts.dir, 'etcd.log');
  const restartScript = join(opts.dir, 'restart-etcd.sh');
  const args = [
    '--name', 'm1',
    '--data-dir', join(opts.dir, 'etcd-data'),
    '--listen-client-urls', `https://127.0.0.1:${clientPort}`,
    '--advertise-client-urls', `https://127.0.0.1:${clientPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `m1=http://127.0.0.1:${peerPort}`,
    '--cert-file', opts.certFile,
    '--key-file', opts.keyFile,
    '--trusted-ca-file', opts.caFile,
  ];
  writeFileSync(
    restartScript,
    `#!/bin/sh
# Restart etcd: stop the running member (etcd 3.4 dies on SIGHUP anyway), start it again.
set -e
if [ -f ${pidFile} ]; then
  pid=$(cat ${pidFile})
  kill "$pid" 2>/dev/null || true
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
setsid ${bin} ${args.map((a) => `'${a}'`).join(' ')} >>${logFile} 2>&1 < /dev/null &
echo $! > ${pidFile}
`,
    { mode: 0o755 },
  );
  const pid = () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined);
  const stop = () => {
    const p = pid();
    if (p) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  running.add(stop);
  return {
    clientPort,
    restartScript,
    pid,
    stop: () => {
      stop();
      running.delete(stop);
    },
  };
}

export function startEtcd(e: Etcd): void {
  execFileSync('/bin/sh', [e.restartScript], { stdio: 'ignore' });
}
