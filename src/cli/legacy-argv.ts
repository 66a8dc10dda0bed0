/**
 * consul-template's command line, in Go's flag syntax (`-flag value`, `-flag=value`,
 * `--flag`; booleans as `-once` or `-once=false`), so that the words of a systemd unit
 * (`consul-template -config /etc/consul-template.d -once`) work with certrender.
 *
 * Flags become certrender's command (`-once` and `-exit-after-auth`: once; `-dry`: plan
 * with contents; neither: run, which runs once when the config says `once`), its native
 * options (`-config`, `-log-level`), and a config overlay in consul-template's shape that
 * the loader maps like a file and merges after every file: flags win. Pure.
 */
import { CertrenderError } from '../errors.js';
import type { Level } from '../observe/logger.js';
import type { CommandName, ParsedArgs } from './options.js';

export interface LegacyInvocation {
  command: Extract<CommandName, 'once' | 'plan' | 'run'>;
  args: ParsedArgs;
  /** Keys from flags, consul-template's shape (`vault.address`, `template`, `wait`, ...). */
  overlay: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
type Kind = 'bool' | 'string' | 'int' | 'float';
/** Where a flag's value goes: a path into the overlay, or a native option. */
type Target = { path: string[]; kind: Kind } | { arg: 'config' | 'log-level' | 'state-dir' | 'json' | 'once' | 'dry'; kind: Kind };

const FLAGS: Record<string, Target> = {
  config: { arg: 'config', kind: 'string' },
  once: { arg: 'once', kind: 'bool' },
  'exit-after-auth': { arg: 'once', kind: 'bool' },
  dry: { arg: 'dry', kind: 'bool' },
  'log-level': { arg: 'log-level', kind: 'string' },
  'state-dir': { arg: 'state-dir', kind: 'string' },
  json: { arg: 'json', kind: 'bool' },
  'pid-file': { path: ['pid_file'], kind: 'string' },
  wait: { path: ['wait'], kind: 'string' },
  'max-stale': { path: ['max_stale'], kind: 'string' },
  'kill-signal': { path: ['kill_signal'], kind: 'string' },
  'reload-signal': { path: ['reload_signal'], kind: 'string' },
  syslog: { path: ['syslog', 'enabled'], kind: 'bool' },
  'syslog-facility': { path: ['syslog', 'facility'], kind: 'string' },
  'syslog-name': { path: ['syslog', 'name'], kind: 'string' },
  'log-file': { path: ['log_file', 'path'], kind: 'string' },
  'template-error-fatal': { path: ['template_error_fatal'], kind: 'bool' },
  'err-on-failed-lookup': { path: ['err_on_failed_lookup'], kind: 'bool' },
  'default-left-delimiter': { path: ['default_delimiters', 'left'], kind: 'string' },
  'default-right-delimiter': { path: ['default_delimiters', 'right'], kind: 'string' },
  'vault-addr': { path: ['vault', 'address'], kind: 'string' },
  'vault-token': { path: ['vault', 'token'], kind: 'string' },
  'vault-namespace': { path: ['vault', 'namespace'], kind: 'string' },
  'vault-agent-token-file': { path: ['vault', 'vault_agent_token_file'], kind: 'string' },
  'vault-renew-token': { path: ['vault', 'renew_token'], kind: 'bool' },
  'vault-unwrap-token': { path: ['vault', 'unwrap_token'], kind: 'bool' },
  'vault-default-lease-duration': { path: ['vault', 'default_lease_duration'], kind: 'string' },
  'vault-lease-renewal-threshold': { path: ['vault', 'lease_renewal_threshold'], kind: 'float' },
  'vault-k8s-auth-role-name': { path: ['vault', 'k8s_auth_role_name'], kind: 'string' },
  'vault-k8s-service-account-token': { path: ['vault', 'k8s_service_account_token'], kind: 'string' },
  'vault-k8s-service-account-token-path': { path: ['vault', 'k8s_service_account_token_path'], kind: 'string' },
  'vault-k8s-service-mount-path': { path: ['vault', 'k8s_service_mount_path'], kind: 'string' },
  'vault-retry': { path: ['vault', 'retry', 'enabled'], kind: 'bool' },
  'vault-retry-attempts': { path: ['vault', 'retry', 'attempts'], kind: 'int' },
  'vault-retry-backoff': { path: ['vault', 'retry', 'backoff'], kind: 'string' },
  'vault-retry-max-backoff': { path: ['vault', 'retry', 'max_backoff'], kind: 'string' },
  'vault-ssl': { path: ['vault', 'ssl', 'enabled'], kind: 'bool' },
  'vault-ssl-verify': { path: ['vault', 'ssl', 'verify'], kind: 'bool' },
  'vault-ssl-cert': { path: ['vault', 'ssl', 'cert'], kind: 'string' },
  'vault-ssl-key': { path: ['vault', 'ssl', 'key'], kind: 'string' },
  'vault-ssl-ca-cert': { path: ['vault', 'ssl', 'ca_cert'], kind: 'string' },
  'vault-ssl-ca-path': { path: ['vault', 'ssl', 'ca_path'], kind: 'string' },
  'vault-ssl-server-name': { path: ['vault', 'ssl', 'server_name'], kind: 'string' },
};

const REFUSED: [RegExp, string][] = [
  [/^exec(-|$)/, 'process supervision is not certrender\'s job: run the process under systemd and reload it from a template command'],
  [/^consul(-|$)/, 'Consul is not supported: certrender renders from Vault/OpenBao only'],
  [/^nomad(-|$)/, 'Nomad is not supported: certrender renders from Vault/OpenBao only'],
  [/^dedup(-|$)/, 'deduplication is a Consul feature and is not supported'],
];

const LEVELS: Record<string, Level> = { trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', err: 'error', error: 'error', silent: 'silent' };

/** The word that puts a native invocation first: `once --config x`. */
const NATIVE = new Set(['once', 'plan', 'status', 'run', 'help']);

function usage(message: string, hint = 'see `certrender --help`; consul-template flags are listed in docs/compat.md'): CertrenderError {
  return new CertrenderError('CR_USAGE', message, { hint });
}

/** consul-template's `-template "src:dst[:cmd]"`, split as it splits it (a drive letter stays with its path). */
export function parseTemplateFlag(s: string): Obj {
  if (!s.trim()) throw usage('-template: empty value', 'use -template "source:destination[:command]"');
  const parts = s.match(/([a-zA-Z]:)?([^:]+)/g) ?? [];
  const [source, destination, ...command] = parts;
  return {
    source,
    ...(destination !== undefined ? { destination } : {}),
    ...(command.length ? { command: [command.join(':')] } : {}),
  };
}

function set(obj: Obj, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Obj;
  o[path[path.length - 1]] = value;
}

function convert(name: string, kind: Kind, text: string): unknown {
  if (kind === 'string') return text;
  if (kind === 'bool') {
    // Go's strconv.ParseBool.
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
    throw usage(`invalid boolean value "${text}" for -${name}`);
  }
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw usage(`invalid ${kind === 'int' ? 'integer' : 'number'} value "${text}" for -${name}`);
  return n;
}

/** undefined when argv is certrender's own syntax (a command word first, help, version). */
export function parseLegacyArgv(argv: string[]): LegacyInvocation | undefined {
  if (argv.length === 0 || !argv[0].startsWith('-') || /^--?(h|help|version|v)$/.test(argv[0])) return undefined;
  const args: ParsedArgs = { config: [] };
  const overlay: Obj = {};
  const templates: Obj[] = [];
  let once = false;
  let dry = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      if (i + 1 < argv.length) throw usage(`unexpected argument "${argv[i + 1]}"`);
      break;
    }
    const m = /^--?([^-=][^=]*)(?:=([\s\S]*))?$/.exec(a);
    if (!m) {
      if (NATIVE.has(a)) return undefined; // `--config x once`: certrender's syntax with options first
      throw usage(`unexpected argument "${a}" (consul-template takes flags only)`);
    }
    const [, name, inline] = m;
    const refused = REFUSED.find(([re]) => re.test(name));
    if (refused) throw usage(`-${name} is not supported: ${refused[1]}`);
    const target = name === 'template' ? undefined : FLAGS[name];
    if (name !== 'template' && !target) throw usage(`flag provided but not defined: -${name}`);
    const kind = target?.kind ?? 'string';
    let text = inline;
    if (text === undefined) {
      if (kind === 'bool') text = 'true';
      else if (i + 1 < argv.length) text = argv[++i];
      else throw usage(`flag needs an argument: -${name}`);
    }
    if (!target) {
      templates.push(parseTemplateFlag(text));
      continue;
    }
    const value = convert(name, kind, text);
    if ('path' in target) {
      set(overlay, target.path, value);
      continue;
    }
    switch (target.arg) {
      case 'config':
        args.config.push(text);
        break;
      case 'log-level': {
        const level = LEVELS[text.toLowerCase()];
        if (!level) throw usage(`-log-level: unknown level "${text}" (trace, debug, info, warn, err)`);
        args['log-level'] = level;
        break;
      }
      case 'state-dir':
        args['state-dir'] = text;
        break;
      case 'json':
        args.json = value as boolean;
        break;
      case 'once':
        once = value as boolean;
        break;
      case 'dry':
        dry = value as boolean;
        break;
    }
  }
  if (templates.length) overlay.template = templates;
  if (dry) args.contents = true;
  return { command: dry ? 'plan' : once ? 'once' : 'run', args, overlay };
}
