/**
 * The CLI's commands and options, declared once: yargs builds help and full parsing
 * from this table, and fastParse (node:util parseArgs) handles the common invocations
 * without loading yargs. Anything fastParse does not fully understand goes to yargs.
 */
import { parseArgs } from 'node:util';
import type { Options } from 'yargs';
import type { Level } from '../observe/logger.js';

export type CommandName = 'once' | 'plan' | 'status' | 'run' | 'renew' | 'rotate-shared-key' | 'migrate';

export interface ParsedArgs {
  config: string[];
  'state-dir'?: string;
  'log-level'?: Level;
  json?: boolean;
  'force-renew'?: string[];
  contents?: boolean;
  now?: boolean;
  /** rotate-shared-key */
  name?: string;
  activate?: boolean;
  /** migrate */
  out?: string;
  translate?: boolean;
  force?: boolean;
}

interface OptionSpec {
  name: keyof ParsedArgs;
  short?: string;
  /** Commands it belongs to; global when absent. */
  commands?: CommandName[];
  yargs: Options;
}

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

export const OPTIONS: OptionSpec[] = [
  {
    name: 'config',
    short: 'c',
    yargs: { alias: 'c', type: 'string', array: true, requiresArg: true, describe: 'config file or directory (HCL or JSON, detected by content); repeatable, right-most wins' },
  },
  { name: 'state-dir', yargs: { type: 'string', requiresArg: true, describe: 'where issuances, pinned anchors and journals live (default: see README)' } },
  { name: 'log-level', yargs: { type: 'string', choices: LEVELS, describe: 'JSON log level on stderr' } },
  { name: 'json', yargs: { type: 'boolean', describe: 'machine-readable output on stdout' } },
  {
    name: 'force-renew',
    commands: ['once'],
    yargs: { type: 'string', array: true, requiresArg: true, describe: 'issue anew for these destinations ("all" for every one)' },
  },
  {
    name: 'now',
    commands: ['renew'],
    yargs: { type: 'boolean', demandOption: true, describe: 'check now' },
  },
  { name: 'activate', commands: ['rotate-shared-key'], yargs: { type: 'boolean', describe: 'promote the pending key to active (after every host trusts it)' } },
  { name: 'out', commands: ['migrate'], yargs: { type: 'string', demandOption: true, requiresArg: true, describe: 'directory to write the native config, templates and MIGRATION.md into' } },
  { name: 'translate', commands: ['migrate'], yargs: { type: 'boolean', default: true, describe: 'translate Go templates to nunjucks (--no-translate keeps them as Go templates)' } },
  { name: 'force', commands: ['migrate'], yargs: { type: 'boolean', describe: 'write into a non-empty --out directory' } },
  {
    name: 'contents',
    commands: ['plan'],
    yargs: { type: 'boolean', describe: 'also print the contents of files that need no new issuance (private keys redacted)' },
  },
];

export const COMMANDS: { name: CommandName; usage?: string; describe: string | false; examples: [string, string][] }[] = [
  {
    name: 'once',
    describe: 'run one render cycle: issue what is due, validate, write what changed, exit',
    examples: [
      ['$0 once --config examples/quickstart/certrender.hcl', 'render the quickstart with the embedded local CA'],
      ['$0 once -c /etc/certrender.d --force-renew /etc/kubernetes/pki/apiserver.pem', 're-issue one certificate now'],
    ],
  },
  {
    name: 'plan',
    describe: 'show what `once` would do (issue / reuse with reason, write / skip per file); calls no Vault write endpoint, writes nothing',
    examples: [['$0 plan --config certrender.hcl', 'dry run']],
  },
  {
    name: 'status',
    describe: 'show every destination: subject, issuer, expiry, residual time, renewal point, state',
    examples: [['$0 status --config certrender.hcl --json', 'for monitoring']],
  },
  {
    name: 'run',
    describe:
      'the daemon: renew on time, restore drifted files, reload on SIGHUP or edits, keep its Vault token alive (renew_token); SIGUSR1 checks now; stops on SIGTERM',
    examples: [['$0 run --config /etc/certrender.d', 'under systemd: see examples/systemd/certrender.service']],
  },
  {
    name: 'renew',
    describe: 'with --now: ask the running daemon to check its certificates now (SIGUSR1)',
    examples: [['$0 renew --now --config /etc/certrender.d', '']],
  },
  {
    name: 'rotate-shared-key',
    usage: 'rotate-shared-key <name>',
    describe: 'add a pending version of a shared key (every host trusts it first); --activate promotes it',
    examples: [
      ['$0 rotate-shared-key sa --config /etc/certrender.d', 'stage a new service-account key'],
      ['$0 rotate-shared-key sa --activate --config /etc/certrender.d', 'then, once every host renders both public keys, sign with it'],
    ],
  },
  {
    name: 'migrate',
    describe: 'turn a consul-template config and its templates into a native config with named hooks and .njk templates, plus a report',
    examples: [['$0 migrate --config /etc/consul-template.d --out /tmp/certrender-migrated', '']],
  },
];

/** The common forms only (`once -c x.hcl --json`); undefined sends the argv to yargs. */
export function fastParse(argv: string[]): { command: CommandName; args: ParsedArgs } | undefined {
  const command = COMMANDS.find((c) => c.name === argv[0])?.name;
  if (!command) return undefined;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const o of OPTIONS) {
    if (o.commands && !o.commands.includes(command)) continue;
    options[o.name] = { type: o.yargs.type === 'boolean' ? 'boolean' : 'string', multiple: o.yargs.array === true, ...(o.short ? { short: o.short } : {}) };
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv.slice(1), options, strict: true, allowPositionals: false }));
  } catch {
    return undefined;
  }
  const level = values['log-level'];
  if (level !== undefined && !LEVELS.includes(String(level))) return undefined;
  if (!values.config) return undefined;
  return { command, args: { ...values } as unknown as ParsedArgs };
}
