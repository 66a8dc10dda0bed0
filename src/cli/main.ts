/**
 * The command line. With bin/certrender, which exits with the code main() returns, the
 * only place that calls process.exit; errors become exit codes
 * (README "Exit codes"). stdout carries command output, stderr carries JSON logs.
 */
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import { CertrenderError, EXIT, exitCodeFor, isCertrenderError } from '../errors.js';
import { createLogger, errorFields, scrubSecrets, type Level, type Logger } from '../observe/logger.js';
import { parseLegacyArgv, type LegacyInvocation } from './legacy-argv.js';
import { COMMANDS, fastParse, OPTIONS, type CommandName, type ParsedArgs } from './options.js';
import type { LoadedConfig } from '../config/schema.js';

const require = createRequire(import.meta.url);
const VERSION: string = require('../../package.json').version;


const EPILOG = `Exit codes: 0 ok (also "nothing to do"), 1 a group was rejected or not written,
2 usage or config error, 3 Vault unreachable or refused, 4 state directory problem,
70 internal error.

consul-template flags work as fleets type them:
  certrender -config /etc/consul-template.d -once   (= certrender once --config ...)
  certrender -config x.hcl -dry                     (= certrender plan --contents ...)

Docs: README.md and docs/ in the package.`;

async function load(args: ParsedArgs, logger: Logger, legacy?: LegacyInvocation): Promise<{ loaded: LoadedConfig; stateDir: string }> {
  if (!args.config?.length && !legacy?.overlay.template) {
    throw new CertrenderError('CR_USAGE', 'no config given', { hint: 'pass --config FILE (or a directory); repeat it to merge several' });
  }
  const { loadConfig } = await import('../config/load-config.js');
  const loaded = await loadConfig({ paths: args.config ?? [], cwd: process.cwd(), env: process.env, overlay: legacy?.overlay, consulTemplate: legacy !== undefined });
  if (!args['log-level'] && loaded.config.log_level) logger.setLevel(loaded.config.log_level);
  // DESIGN "State directory": the flag, the config's state_dir, $CERTRENDER_STATE_DIR, the default.
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

/** consul-template's pid_file: written at start, removed at exit. */
async function writePidFile(loaded: LoadedConfig): Promise<void> {
  if (!loaded.config.pid_file) return;
  const { resolve } = await import('node:path');
  const { writeFileSync, rmSync } = await import('node:fs');
  const file = resolve(loaded.baseDir, loaded.config.pid_file);
  writeFileSync(file, `${process.pid}\n`);
  process.once('exit', () => rmSync(file, { force: true }));
}

async function cycle(mode: 'apply' | 'plan', args: ParsedArgs, logger: Logger, legacy?: LegacyInvocation): Promise<number> {
  const { loaded, stateDir } = await load(args, logger, legacy);
  await writePidFile(loaded);
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

async function status(args: ParsedArgs, logger: Logger): Promise<number> {
  const { loaded, stateDir } = await load(args, logger);
  const { collectStatus, formatStatus } = await import('../observe/status.js');
  const rows = collectStatus({ loaded, stateDir, now: new Date() });
  process.stdout.write(args.json ? JSON.stringify(rows, null, 2) + '\n' : formatStatus(rows));
  return rows.some((r) => r.state === 'expired') ? EXIT.CYCLE_FAILED : EXIT.OK;
}

function dispatch(command: CommandName, args: ParsedArgs, logger: Logger): Promise<number> {
  switch (command) {
    case 'once':
      return cycle('apply', args, logger);
    case 'plan':
      return cycle('plan', args, logger);
    case 'status':
      return status(args, logger);
    case 'run':
      return daemon(args, logger);
    case 'renew':
      return renewNow(args, logger);
    case 'rotate-shared-key':
      return rotate(args, logger);
    case 'migrate':
      return migrateCommand(args);
  }
}

async function rotate(args: ParsedArgs, logger: Logger): Promise<number> {
  const { loaded, stateDir } = await load(args, logger);
  const { rotateSharedKey } = await import('../shared-key/rotate-shared-key.js');
  const r = await rotateSharedKey({ loaded, stateDir, name: args.name!, activate: Boolean(args.activate), env: process.env, logger, now: () => new Date() });
  process.stdout.write(
    r.action === 'activated'
      ? `shared key "${r.name}" (${r.path}): the pending key is now active (version ${r.version}, ${r.active}); hosts sign with it from their next cycle\n`
      : `shared key "${r.name}" (${r.path}): pending key ${r.pending} added (version ${r.version}); hosts now render both public keys. When every host has, run with --activate\n`,
  );
  return EXIT.OK;
}

async function migrateCommand(args: ParsedArgs): Promise<number> {
  if (!args.config?.length) throw new CertrenderError('CR_USAGE', 'no config given', { hint: 'pass the consul-template config with --config (repeatable)' });
  const { migrate } = await import('../migrate/migrate.js');
  const r = await migrate({ configPaths: args.config, outDir: args.out!, cwd: process.cwd(), translate: args.translate !== false, force: Boolean(args.force) });
  process.stdout.write(r.report.endsWith('\n') ? r.report : r.report + '\n');
  process.stdout.write(`\nwrote ${r.configPath} and ${r.templates.length} template(s)\n`);
  return EXIT.OK;
}

/**
 * consul-template's command line: -once / -exit-after-auth and -dry name the command;
 * without them the config's `once` (or the Agent's exit_after_auth) still means one run,
 * otherwise it is the daemon.
 */
async function legacyDispatch(legacy: LegacyInvocation, logger: Logger): Promise<number> {
  if (legacy.command !== 'run') return cycle(legacy.command === 'once' ? 'apply' : 'plan', legacy.args, logger, legacy);
  const { loaded } = await load(legacy.args, logger, legacy);
  if (loaded.config.once) return cycle('apply', legacy.args, logger, legacy);
  const flags = Object.keys(legacy.overlay);
  if (flags.length) {
    throw new CertrenderError('CR_USAGE', `the daemon reads its settings from config files only; these flags need -once: ${flags.join(', ')}`, {
      hint: 'add -once, or move the settings into the config file',
    });
  }
  return dispatch('run', legacy.args, logger);
}

/** `certrender run`: stays until SIGTERM/SIGINT; exits 0 after a graceful stop. */
async function daemon(args: ParsedArgs, logger: Logger): Promise<number> {
  if (!args.config?.length) throw new CertrenderError('CR_USAGE', 'no config given', { hint: 'pass --config FILE (or a directory)' });
  const { createDaemon } = await import('../daemon/create-daemon.js');
  const pauseAt = process.env.CERTRENDER_TEST_PAUSE_AT;
  const d = createDaemon({ configPaths: args.config, cwd: process.cwd(), stateDirFlag: args['state-dir'], env: process.env, logger, pause: pauseAt ? testPause(pauseAt) : undefined });
  await d.start();
  const code = await d.done;
  // Stopped gracefully: leave now rather than wait for a library's stray handle.
  process.exit(code);
}

/** `certrender renew --now`: ask the daemon holding the state directory to check now (SIGUSR1). */
async function renewNow(args: ParsedArgs, logger: Logger): Promise<number> {
  const { stateDir } = await load(args, logger);
  const { lockHolder } = await import('../daemon/lock.js');
  const pid = lockHolder(stateDir);
  if (!pid) {
    throw new CertrenderError('CR_USAGE', `no certrender daemon is running on ${stateDir}`, { hint: 'start it with `certrender run`, or run `certrender once`' });
  }
  process.kill(pid, 'SIGUSR1');
  process.stdout.write(`asked certrender (pid ${pid}) to check its certificates now\n`);
  return EXIT.OK;
}

/** The full parser: help, version, suggestions and errors. Built from the same option table as fastParse. */
async function parseWithYargs(argv: string[], logger: Logger): Promise<number> {
  const { default: yargs } = await import('yargs');
  let exitCode: number = EXIT.OK;
  let parser: Argv = yargs(argv)
    .scriptName('certrender')
    .usage(
      `certrender renders Vault/OpenBao-issued certificates to disk from templates.
It issues only when needed, validates every chain and key before a byte is written,
and swaps the files of a group (cert, key, chain) atomically.

Usage: $0 <command> --config FILE [options]`,
    );
  for (const o of OPTIONS.filter((o) => !o.commands)) parser = parser.option(o.name, o.yargs);
  for (const c of COMMANDS) {
    parser = parser.command(
      c.usage ?? c.name,
      c.describe as string,
      (y) => {
        let cy = y;
        for (const o of OPTIONS.filter((o) => o.commands?.includes(c.name))) cy = cy.option(o.name, o.yargs);
        for (const [cmd, what] of c.examples) cy = cy.example(cmd, what);
        return cy;
      },
      async (a) => {
        if (a['log-level']) logger.setLevel(a['log-level'] as Level);
        exitCode = await dispatch(c.name, a as unknown as ParsedArgs, logger);
      },
    );
  }
  await parser
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
    })
    .parseAsync();
  return exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const logger = createLogger({ level: 'info' });
  try {
    // consul-template's Go-style flags (`-config x -once`) have their own small parser.
    const legacy = parseLegacyArgv(argv);
    if (legacy) {
      if (legacy.args['log-level']) logger.setLevel(legacy.args['log-level']);
      return await legacyDispatch(legacy, logger);
    }
    // The common invocations skip loading yargs (~130 ms of the 0.5 s start-up budget);
    // anything else (help, version, a typo) goes through the full parser.
    const fast = fastParse(argv);
    if (!fast) return await parseWithYargs(argv, logger);
    if (fast.args['log-level']) logger.setLevel(fast.args['log-level']);
    return await dispatch(fast.command, fast.args, logger);
  } catch (e) {
    const code = exitCodeFor(e);
    if (isCertrenderError(e)) {
      const msg = scrubSecrets(e.message);
      const text = msg.includes('\n') ? `certrender: ${e.code === 'CR_CONFIG_INVALID' ? 'invalid config' : 'error'}:\n${msg.replace(/^/gm, '  ')}` : `certrender: ${msg}`;
      process.stderr.write(`${text}${e.hint ? `\n  hint: ${e.hint}` : ''}\n`);
      logger.error('command_failed', { error: errorFields(e) });
    } else {
      process.stderr.write(`certrender: internal error: ${scrubSecrets(String((e as Error)?.stack ?? e))}\n`);
    }
    return code;
  }
}
