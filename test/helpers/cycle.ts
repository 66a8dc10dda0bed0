/** Run a render cycle in-process against a config written to a temp dir, capturing logs. */
import { Writable } from 'node:stream';
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { runCycle, type CycleMode, type CycleReport } from '../../src/cycle/run-cycle.js';
import { createLogger } from '../../src/observe/logger.js';
import type { Backend } from '../../src/issuer/backend.js';

export interface CycleRun {
  report: CycleReport;
  logs: string;
  events: Record<string, any>[];
}

/** Write files (path relative to dir -> content) under dir. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
}

export async function cycle(opts: {
  dir: string;
  config?: string;
  mode?: CycleMode;
  now?: Date;
  random?: () => number;
  forceRenew?: string[];
  env?: NodeJS.ProcessEnv;
  backend?: Backend;
  collectContents?: boolean;
}): Promise<CycleRun> {
  let logs = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const env = opts.env ?? {};
  const loaded = await loadConfig({ paths: [join(opts.dir, opts.config ?? 'certrender.hcl')], cwd: opts.dir, env });
  const report = await runCycle({
    loaded,
    mode: opts.mode ?? 'apply',
    stateDir: loaded.config.state_dir ? join(opts.dir, loaded.config.state_dir) : join(opts.dir, 'state'),
    logger,
    now: () => opts.now ?? new Date(),
    random: opts.random ?? (() => 0.5),
    forceRenew: opts.forceRenew ?? [],
    env,
    backend: opts.backend,
    collectContents: opts.collectContents,
  });
  const events = logs
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return { report, logs, events };
}

export const count = <T>(xs: T[], pred: (x: T) => boolean) => xs.filter(pred).length;
