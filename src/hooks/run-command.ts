/**
 * Run one hook command: argv without a shell (unless asked), in its own process group,
 * with a timeout that really ends it: SIGTERM to the whole group, then SIGKILL after a
 * grace period. The run is over when the process exits, even if a background child
 * still holds its output open (we stop reading then). After a timeout the whole group
 * is killed, so no process of a hung hook outlives the run; after a normal exit a
 * background child is left running (a hook may start a daemon). Output is captured up
 * to a bound, for the log.
 */
import { spawn } from 'node:child_process';

export interface CommandSpec {
  argv: string[];
  /** Run `argv[0]` through `sh -c` (consul-template: a one-element command with spaces). */
  shell?: boolean;
  timeoutMs: number;
  graceMs?: number;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes of stdout+stderr kept (the tail is dropped). */
  maxOutput?: number;
}

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  output: string;
  truncated: boolean;
  /** Set when the command could not be started (ENOENT, EACCES...). */
  spawnError?: string;
}

/** Variables passed to hooks from certrender's own environment; the rest is dropped. */
export const HOOK_ENV_ALLOWLIST = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SYSTEMD_EXEC_PID', 'KUBECONFIG'];

export function hookEnv(opts: { from: NodeJS.ProcessEnv; changed: string[]; extra?: Record<string, string> }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of HOOK_ENV_ALLOWLIST) if (opts.from[k] !== undefined) env[k] = opts.from[k];
  env.CERTRENDER_CHANGED = opts.changed.join('\n');
  return { ...env, ...opts.extra };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* the group is already gone */
  }
}

export function runCommand(spec: CommandSpec): Promise<CommandResult> {
  const started = Date.now();
  const max = spec.maxOutput ?? 64 * 1024;
  const grace = spec.graceMs ?? 5000;
  const [file, ...args] = spec.shell ? ['/bin/sh', '-c', spec.argv.join(' ')] : spec.argv;
  return new Promise((resolve) => {
    let output = '';
    let truncated = false;
    let timedOut = false;
    let settled = false;
    const child = spawn(file, args, { env: spec.env, cwd: spec.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      if (output.length >= max) {
        truncated = true;
        return;
      }
      output += chunk.toString('utf8').slice(0, max - output.length);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: Partial<CommandResult>) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      // After a timeout nothing of the hook may survive: its whole group dies. After a
      // normal exit a background child is left alone: it may be the daemon the hook
      // (re)started; we only stop reading its output.
      if (timedOut && child.pid) killGroup(child.pid, 'SIGKILL');
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolve({ exitCode: null, signal: null, timedOut, durationMs: Date.now() - started, output, truncated, ...r });
    };
    child.on('error', (e) => finish({ spawnError: (e as NodeJS.ErrnoException).code ?? e.message }));
    child.on('exit', (code, signal) => finish({ exitCode: code, signal }));
    timers.push(
      setTimeout(() => {
        timedOut = true;
        if (child.pid) killGroup(child.pid, 'SIGTERM');
        timers.push(setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), grace));
      }, spec.timeoutMs),
    );
  });
}
