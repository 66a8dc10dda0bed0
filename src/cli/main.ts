/**
 * The command line. The only place that calls process.exit; errors become exit codes
 * (README "Exit codes"). stdout carries command output, stderr carries JSON logs.
 */
import { createRequire } from 'node:module';
import yargs, { type Argv } from 'yargs';
import { CertrenderError, EXIT, exitCodeFor, isCertrenderError } from '../errors.js';
import { createLogger, errorFields, scrubSecrets, type Level, type Logger } from '../observe/logger.js';
import { translateLegacyArgv } from './legacy-argv.js';
import type { LoadedConfig } from '../config/schema.js';

const require = createRequire(import.meta.url);
const VERSION: string = require('../../package.json').version;

interface CommonArgs {
  config: string[];
  'state-dir'?: string;
  'log-level'?: Level;
  json?: boolean;
}

const EPILOG = `Exit codes: 0 ok (also "nothing to do"), 1 a group was rejected or not written,
2 usage or config error, 3 Vault unreachable or refused, 4 state directory problem,
70 internal error.

consul-template flags work as fleets type them:
  certrender -config /etc/consul-template.d -once   (= certrender once --config ...)
  certrender -config x.hcl -dry                     (= certrender plan --contents ...)

Docs: README.md and docs/ in the package.`;

async function load(args: CommonArgs, logger: Logger): Promise<{ loaded: LoadedConfig; stateDir: string }> {
  if (!args.config?.length) {
    throw new CertrenderError('CR_USAGE', 'no config given', { hint: 'pass --config FILE (or a directory); repeat it to merge several' });
  }
  const { loadConfig } = await import('../config/load-config.js');
  const loaded = await loadConfig({ paths: args.config, cwd: process.cwd(), env: process.env });
  if (!args['log-level'] && loaded.config.log_level) logger.setLevel(loaded.config.log_level);
  const { resolveStateDir } = await import('../state/state-dir.js');
  const stateDir = resolveStateDir({
    flag: args['state-dir'],
    configured: loaded.config.state_dir,
    configFiles: loaded.files,
    env: process.env,
    cwd: process.cwd(),
    isRoot: process.getuid?.() === 0,
  });
  return { loaded, stateDir };
}

async function cycle(mode: 'apply' | 'plan', args: CommonArgs & { 'force-renew'?: string[]; contents?: boolean }, logger: Logger): Promise<number> {
  const { loaded, stateDir } = await load(args, logger);
  const { runCycle } = await import('../cycle/run-cycle.js');
  const { resolve } = await import('node:path');
  const force = (args['force-renew'] ?? []).map((d) => (d === 'all' ? 'all' : resolve(process.cwd(), d)));
  const pauseAt = process.env.CERTRENDER_TEST_PAUSE_AT;
  const report = await runCycle({
    loaded,
    mode,
    stateDir,
    logger,
    now: () => new Date(),
    random: Math.random,
    forceRenew: force,
    env: process.env,
    collectContents: Boolean(args.contents),
    pause: pauseAt ? testPause(pauseAt) : undefined,
  });
  const fmt = await import('./format-report.js');
  if (args.json) {
    process.stdout.write(JSON.stringify({ ...report, contents: undefined }, null, 2) + '\n');
  } else {
    process.stdout.write(fmt.formatReport(report));
    if (args.contents) process.stdout.write(fmt.formatContents(report));
  }
  return report.ok ? EXIT.OK : EXIT.CYCLE_FAILED;
}

/**
 * A pause point for crash tests, never for production use: when the swap reaches the
 * point named by CERTRENDER_TEST_PAUSE_AT, write its name to CERTRENDER_TEST_PAUSE_FILE
 * and wait until the process is killed.
 */
function testPause(at: string) {
  return async (point: string) => {
    if (point !== at) return;
    const { writeFileSync } = await import('node:fs');
    if (process.env.CERTRENDER_TEST_PAUSE_FILE) writeFileSync(process.env.CERTRENDER_TEST_PAUSE_FILE, point);
    await new Promise(() => setInterval(() => {}, 1 << 30));
  };
}

export async function main(argv: string[]): Promise<number> {
  const logger = createLogger({ level: 'info' });
  let exitCode: number = EXIT.OK;
  const run = (fn: () => Promise<number>) => async () => {
    exitCode = await fn();
  };
  const parser: Argv = yargs(translateLegacyArgv(argv))
    .scriptName('certrender')
    .usage(
      `certrender renders Vault/OpenBao-issued certificates to disk from templates.
It issues only when needed, validates every chain and key before a byte is written,
and swaps the files of a group (cert, key, chain) atomically.

Usage: $0 <command> --config FILE [options]`,
    )
    .option('config', { alias: ['c'], type: 'string', array: true, describe: 'config file or directory (HCL or JSON, detected by content); repeatable, right-most wins', requiresArg: true })
    .option('state-dir', { type: 'string', describe: 'where issuances, pinned anchors and journals live (default: see README)', requiresArg: true })
    .option('log-level', { type: 'string', choices: ['debug', 'info', 'warn', 'error', 'silent'], describe: 'JSON log level on stderr' })
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout' })
    .middleware((a) => {
      if (a['log-level']) logger.setLevel(a['log-level'] as Level);
    })
    .command(
      'once',
      'run one render cycle: issue what is due, validate, write what changed, exit',
      (y) =>
        y
          .option('force-renew', { type: 'string', array: true, describe: 'issue anew for these destinations ("all" for every one)', requiresArg: true })
          .example('$0 once --config examples/quickstart/certrender.hcl', 'render the quickstart with the embedded local CA')
          .example('$0 once -c /etc/certrender.d --force-renew /etc/kubernetes/pki/apiserver.pem', 're-issue one certificate now'),
      run(() => cycle('apply', parser.argv as any, logger)),
    )
    .command(
      'plan',
      'show what `once` would do (issue / reuse with reason, write / skip per file); calls no Vault write endpoint, writes nothing',
      (y) =>
        y
          .option('contents', { type: 'boolean', describe: 'also print the contents of files that need no new issuance (private keys redacted)' })
          .example('$0 plan --config certrender.hcl', 'dry run'),
      run(() => cycle('plan', parser.argv as any, logger)),
    )
    .command(
      'status',
      'show every destination: subject, issuer, expiry, residual time, renewal point, state',
      (y) => y.example('$0 status --config certrender.hcl --json', 'for monitoring'),
      run(async () => {
        const args = parser.argv as unknown as CommonArgs;
        const { loaded, stateDir } = await load(args, logger);
        const { collectStatus, formatStatus } = await import('../observe/status.js');
        const rows = collectStatus({ loaded, stateDir, now: new Date() });
        process.stdout.write(args.json ? JSON.stringify(rows, null, 2) + '\n' : formatStatus(rows));
        return rows.some((r) => r.state === 'expired') ? EXIT.CYCLE_FAILED : EXIT.OK;
      }),
    )
    .command('run', false, () => {}, run(async () => {
      throw new CertrenderError('CR_USAGE', 'the daemon (`certrender run`, or consul-template flags without -once) is not available in this version', {
        hint: 'use `certrender once` (consul-template: add -once) from a timer for now',
      });
    }))
    .example('$0 once --config examples/quickstart/certrender.hcl', 'try it: local CA, no Vault needed')
    .example('$0 plan --config /etc/certrender.d', 'what would change, with zero side effects')
    .example('$0 status --config /etc/certrender.d', 'expiry and renewal point of every destination')
    .example('$0 -config /etc/consul-template.d -once', 'a consul-template unit, unchanged')
    .demandCommand(1, 'name a command: once, plan or status')
    .recommendCommands()
    .strict()
    .epilog(EPILOG)
    .version(VERSION)
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new CertrenderError('CR_USAGE', msg, { hint: 'see certrender --help' });
    });
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (e) {
    const code = exitCodeFor(e);
    if (isCertrenderError(e)) {
      process.stderr.write(`certrender: ${scrubSecrets(e.message)}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
      logger.error('command_failed', { error: errorFields(e) });
    } else {
      process.stderr.write(`certrender: internal error: ${scrubSecrets(String((e as Error)?.stack ?? e))}\n`);
    }
    return code;
  }
}
