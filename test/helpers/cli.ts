/** Spawn certrender as a real process (from source through tsx, or the built bin). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** tsx's loader by URL: `--import tsx` would resolve from the child's cwd (a temp dir). */
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; bin?: 'source' | 'dist' }): { child: ChildProcess; done: Promise<CliResult> } {
  const argv =
    opts.bin === 'dist'
      ? [`${ROOT}/bin/certrender`, ...args]
      : ['--import', TSX, `${ROOT}/test/fixtures/certrender-dev.ts`, ...args];
  const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env };
  const child = spawn(process.execPath, argv, { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; bin?: 'source' | 'dist' }): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** The JSON log lines of a run's stderr. */
export function logEvents(stderr: string): Record<string, any>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}
