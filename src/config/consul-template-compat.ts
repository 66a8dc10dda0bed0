/**
 * The second front door: consul-template and Vault/OpenBao Agent config keys mapped onto
 * the native ones, per file, before the merge and the one schema. Keys certrender
 * implements are moved to their native place; keys that only mean something to a daemon
 * or to a feature certrender does not have are accepted with a warning; Consul, Nomad,
 * deduplication and process supervision are refused. Nothing is dropped silently: every
 * key this layer consumes is either mapped, warned about or refused.
 *
 * Pure: no I/O. Paths are given twice: `path`, the key as the user reads it
 * (`auto_auth.sink`), and `at`, the path into the file's parsed value that positions use
 * (with HCL1's block indices where this layer unwrapped a block).
 */
import { denylistGap } from '../template/function-names.js';

type Obj = Record<string, unknown>;
type PathSeg = string | number;

export interface CompatFinding {
  /** Dotted key path as the user wrote it, 0-based template indices local to the file. */
  path: string;
  /** Path into the file's normalised value, for its line. */
  at: PathSeg[];
  message: string;
}

export interface CompatResult {
  /** The file's value with consul-template keys moved to native ones. */
  raw: Obj;
  warnings: CompatFinding[];
  /** Refused keys: the file cannot be used as it is. */
  problems: CompatFinding[];
  /** Where the value at a native path came from in the file (identity when it did not move). */
  origin(path: PathSeg[]): PathSeg[];
  /** True when the file used a consul-template or Agent key (inline `contents` then default to Go templates). */
  consulTemplate: boolean;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An HCL1 block (a list of objects; the last wins) or a JSON object, with the path to it. */
function block(v: unknown, at: PathSeg[]): { body: Obj; at: PathSeg[] } | undefined {
  if (isObj(v)) return { body: v, at };
  if (Array.isArray(v) && v.length > 0 && v.every(isObj)) return { body: v[v.length - 1] as Obj, at: [...at, v.length - 1] };
  return undefined;
}

const NO_WAIT = 'certrender renders as soon as its data is fetched: it has no quiescence timer';
const LOGS = 'certrender logs JSON lines to stderr; route them with the service manager';

/** Top-level keys accepted with a warning. */
const WARN_TOP: Record<string, string> = {
  wait: NO_WAIT,
  reload_signal: 'certrender run reloads on SIGHUP, always',
  kill_signal: 'certrender stops gracefully on SIGTERM and SIGINT',
  max_stale: 'a Consul setting: certrender reads no Consul',
  block_query_wait: 'a Consul setting: certrender reads no Consul',
  log_file: LOGS,
  syslog: LOGS,
  log_format: LOGS,
  template_error_fatal: 'a failing template never stops the others: its group is not written and the exit code is 1',
  err_on_failed_lookup: 'not implemented: a missing key follows each template\'s error_on_missing_key',
  disable_mlock: 'certrender holds no long-lived secrets in memory to lock',
  api_proxy: 'certrender runs no Vault API proxy',
  telemetry: 'certrender exports no telemetry; see `certrender status --json`',
  cache: 'certrender runs no Vault cache',
  listener: 'certrender opens no listener',
};

/** Top-level keys refused: the file means something certrender must not pretend to do. */
const REFUSE_TOP: Record<string, string> = {
  consul: 'Consul is not supported: certrender renders from Vault/OpenBao only; remove the consul block',
  nomad: 'Nomad is not supported: certrender renders from Vault/OpenBao only; remove the nomad block',
  dedup: 'deduplication is a Consul feature and is not supported; remove it',
  deduplicate: 'deduplication is a Consul feature and is not supported; remove it',
  exec: 'process supervision is not certrender\'s job: run the process under systemd (or your supervisor) and reload it from a template `command`',
  env_template: 'env_template feeds the Agent\'s exec mode, which certrender does not have; remove it',
};

const TEMPLATE_CONFIG: Record<string, string> = {
  static_secret_render_interval: 'static_secret_render_interval',
  lease_renewal_threshold: 'lease_renewal_threshold',
};

const LOG_LEVELS: Record<string, string> = { err: 'error', warning: 'warn', trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', error: 'error' };

export function mapConsulTemplate(input: Obj, opts: { consulTemplate?: boolean } = {}): CompatResult {
  const raw: Obj = { ...input };
  const warnings: CompatFinding[] = [];
  const problems: CompatFinding[] = [];
  const moved: [PathSeg[], PathSeg[]][] = [];
  let touched = false;
  const notice = (path: string, at: PathSeg[], message: string) => {
    warnings.push({ path, at, message });
  };
  const warn = (path: string, at: PathSeg[], message: string) => {
    touched = true;
    notice(path, at, message);
  };
  const refuse = (path: string, at: PathSeg[], message: string) => {
    touched = true;
    problems.push({ path, at, message });
  };
  const move = (to: PathSeg[], from: PathSeg[]) => {
    touched = true;
    moved.push([to, from]);
  };
  const touch = () => {
    touched = true;
  };

  for (const [key, why] of Object.entries(REFUSE_TOP)) if (key in raw) refuse(key, [key], why);
  for (const [key, why] of Object.entries(WARN_TOP)) {
    if (!(key in raw)) continue;
    warn(key, [key], `accepted and ignored: ${why}`);
    delete raw[key];
  }
  for (const key of Object.keys(REFUSE_TOP)) delete raw[key];

  // Agent: exit_after_auth means once.
  if ('exit_after_auth' in raw) {
    raw.once = raw.exit_after_auth;
    delete raw.exit_after_auth;
    move(['once'], ['exit_after_auth']);
  }
  if ('once' in raw || 'pid_file' in raw || 'default_delimiters' in raw) touch();
  if (typeof raw.log_level === 'string') {
    const level = LOG_LEVELS[raw.log_level.toLowerCase()];
    if (level && level !== raw.log_level) {
      raw.log_level = level;
      touched = true;
    }
  }

  const delimiters = 'default_delimiters' in raw ? block(raw.default_delimiters, ['default_delimiters']) : undefined;
  if (delimiters) raw.default_delimiters = delimiters.body;

  const tc = 'template_config' in raw ? block(raw.template_config, ['template_config']) : undefined;
  if ('template_config' in raw) {
    touched = true;
    delete raw.template_config;
    if (!tc) refuse('template_config', ['template_config'], 'expected a block');
    for (const [k, v] of Object.entries(tc?.body ?? {})) {
      const from = [...tc!.at, k];
      if (k in TEMPLATE_CONFIG) {
        raw[TEMPLATE_CONFIG[k]] = v;
        move([TEMPLATE_CONFIG[k]], from);
      } else if (k === 'max_connections_per_host') {
        raw.max_concurrency = typeof v === 'number' ? Math.min(Math.max(v, 1), 64) : v;
        move(['max_concurrency'], from);
      } else if (k === 'exit_on_retry_failure') {
        warn(`template_config.${k}`, from, 'accepted: certrender always exits (code 3) when Vault stays unreachable after its retries');
      } else {
        refuse(`template_config.${k}`, from, 'unknown key');
      }
    }
  }

  const sink: Sink = { warn, notice, refuse, move, touch };
  if (isObj(raw.vault)) {
    const { lease_renewal_threshold, ...vault } = mapVault(raw.vault, sink);
    raw.vault = vault;
    if (lease_renewal_threshold !== undefined) {
      raw.lease_renewal_threshold ??= lease_renewal_threshold;
      move(['lease_renewal_threshold'], ['vault', 'lease_renewal_threshold']);
    }
  }

  if ('auto_auth' in raw) {
    touched = true;
    const aa = block(raw.auto_auth, ['auto_auth']);
    delete raw.auto_auth;
    const auth = aa ? mapAutoAuth(aa, sink) : undefined;
    if (!aa) refuse('auto_auth', ['auto_auth'], 'expected a block');
    if (auth) {
      const vault: Obj = isObj(raw.vault) ? { ...raw.vault } : {};
      if (auth.tokenFile !== undefined) vault.token_file = auth.tokenFile.value;
      if (auth.tokenFile) move(['vault', 'token_file'], auth.tokenFile.at);
      if (auth.login) vault.auth = auth.login;
      raw.vault = vault;
    }
  }

  if (Array.isArray(raw.template)) {
    const templates = raw.template.map((t, i) => (isObj(t) ? mapTemplate(t, i, sink) : t));
    // consul-template's inline contents are Go templates (native ones default to nunjucks).
    const go = touched || opts.consulTemplate;
    raw.template = templates.map((t) => (go && isObj(t) && t.contents !== undefined && t.engine === undefined ? { ...t, engine: 'go' } : t));
  }

  const origin = (path: PathSeg[]): PathSeg[] => {
    for (const [to, from] of [...moved].sort((a, b) => b[0].length - a[0].length)) {
      if (to.length <= path.length && to.every((s, i) => s === path[i])) return [...from, ...path.slice(to.length)];
    }
    return path;
  };
  return { raw, warnings, problems, origin, consulTemplate: touched };
}

interface Sink {
  warn(path: string, at: PathSeg[], message: string): void;
  /** A warning about a native key: it does not mark the file as consul-template's. */
  notice(path: string, at: PathSeg[], message: string): void;
  refuse(path: string, at: PathSeg[], message: string): void;
  move(to: PathSeg[], from: PathSeg[]): void;
  /** The file used a consul-template key that needs no mapping. */
  touch(): void;
}

function mapVault(input: Obj, s: Sink): Obj {
  const v: Obj = { ...input };
  const at = (k: string): PathSeg[] => ['vault', k];
  if ('default_lease_duration' in v) {
    s.warn('vault.default_lease_duration', at('default_lease_duration'), 'accepted and ignored: reads are re-fetched every static_secret_render_interval, issuances renew at their renewal point');
    delete v.default_lease_duration;
  }
  if ('transport' in v) {
    s.warn('vault.transport', at('transport'), 'accepted and ignored: certrender uses its own HTTP transport settings (vault.timeout)');
    delete v.transport;
  }
  if ('vault_agent_token_file' in v) s.touch();
  if ('unwrap_token' in v) {
    if (v.unwrap_token === true) {
      s.refuse('vault.unwrap_token', at('unwrap_token'), 'a wrapped token can be unwrapped only once, and every once run or daemon restart would need it again: deliver an unwrapped token (vault_agent_token_file) or use auto_auth with approle');
    }
    delete v.unwrap_token;
  }
  const k8s = ['k8s_auth_role_name', 'k8s_service_account_token', 'k8s_service_account_token_path', 'k8s_service_mount_path'];
  if (k8s.some((k) => k in v)) {
    const auth: Obj = { method: 'kubernetes' };
    const map: Record<string, string> = { k8s_auth_role_name: 'role', k8s_service_account_token: 'jwt', k8s_service_account_token_path: 'token_path', k8s_service_mount_path: 'mount_path' };
    for (const k of k8s) {
      if (!(k in v)) continue;
      auth[map[k]] = v[k];
      s.move(['vault', 'auth', map[k]], at(k));
      delete v[k];
    }
    s.move(['vault', 'auth'], at('k8s_auth_role_name'));
    v.auth = auth;
  }
  if ('retry' in v) {
    const r = block(v.retry, ['vault', 'retry']);
    if (r && 'num_retries' in r.body) {
      const { num_retries, ...rest } = r.body;
      const n = num_retries;
      // Agent: 0 means the default (12), -1 disables retries.
      v.retry = n === -1 ? { ...rest, enabled: false } : { ...rest, attempts: n === 0 ? 12 : n };
      s.move(['vault', 'retry', 'attempts'], [...r.at, 'num_retries']);
    }
  }
  return v;
}

function mapAutoAuth(aa: { body: Obj; at: PathSeg[] }, s: Sink): { tokenFile?: { value: unknown; at: PathSeg[] }; login?: Obj } | undefined {
  let out: { tokenFile?: { value: unknown; at: PathSeg[] }; login?: Obj } | undefined;
  for (const [k, v] of Object.entries(aa.body)) {
    const at = [...aa.at, k];
    if (k === 'sink') s.warn('auto_auth.sink', at, 'accepted and ignored: certrender keeps its token in memory and writes no sink (anything else reading the sink file needs the Agent)');
    else if (k === 'method') out = mapMethod(v, at, s);
    else s.refuse(`auto_auth.${k}`, at, 'unknown key (auto_auth takes method and sink)');
  }
  if (!out && !('method' in aa.body)) s.refuse('auto_auth', aa.at, 'auto_auth needs a method');
  return out;
}

function mapMethod(v: unknown, at: PathSeg[], s: Sink): { tokenFile?: { value: unknown; at: PathSeg[] }; login?: Obj } | undefined {
  const m = block(v, at);
  if (!m) {
    s.refuse('auto_auth.method', at, 'expected a block');
    return undefined;
  }
  // `method "approle" { ... }` (a label) or `method { type = "approle" ... }`.
  let type = typeof m.body.type === 'string' ? m.body.type : undefined;
  let body = m.body;
  let bodyAt = m.at;
  if (type === undefined) {
    const keys = Object.keys(m.body);
    const inner = keys.length === 1 ? block(m.body[keys[0]], [...m.at, keys[0]]) : undefined;
    if (!inner) {
      s.refuse('auto_auth.method', m.at, 'the method needs a type: method "approle" { ... } or method { type = "approle" ... }');
      return undefined;
    }
    [type, body, bodyAt] = [keys[0], inner.body, inner.at];
  }
  const path = `auto_auth.method.${type}`;
  const cfg = block(body.config, [...bodyAt, 'config']);
  const c = cfg?.body ?? {};
  const cAt = (k: string): PathSeg[] => [...(cfg?.at ?? [...bodyAt, 'config']), k];
  for (const k of Object.keys(body)) {
    if (!['type', 'config', 'mount_path', 'namespace', 'wrap_ttl', 'min_backoff', 'max_backoff', 'exit_on_err'].includes(k)) {
      s.refuse(`${path}.${k}`, [...bodyAt, k], 'unknown key');
    }
  }
  if (body.wrap_ttl !== undefined) s.refuse(`${path}.wrap_ttl`, [...bodyAt, 'wrap_ttl'], 'response wrapping of the auto_auth token is not supported: remove wrap_ttl');
  for (const k of ['min_backoff', 'max_backoff', 'exit_on_err'] as const) {
    if (k in body) s.warn(`${path}.${k}`, [...bodyAt, k], 'accepted and ignored: a failed login fails the run (exit code 3)');
  }
  if (body.namespace !== undefined) s.refuse(`${path}.namespace`, [...bodyAt, 'namespace'], 'a login namespace other than vault.namespace is not supported: set vault { namespace }');
  const known = (keys: string[]) => {
    for (const k of Object.keys(c)) if (!keys.includes(k)) s.refuse(`${path}.config.${k}`, cAt(k), `not supported for the ${type} method (supported: ${keys.join(', ')})`);
  };
  const mount = typeof body.mount_path === 'string' ? body.mount_path.replace(/^\/?auth\//, '').replace(/\/+$/, '') : undefined;
  const login: Obj = { method: type };
  if (mount !== undefined) {
    login.mount_path = mount;
    s.move(['vault', 'auth', 'mount_path'], [...bodyAt, 'mount_path']);
  }
  const take = (from: string, to: string) => {
    if (!(from in c)) return;
    login[to] = c[from];
    s.move(['vault', 'auth', to], cAt(from));
  };
  s.move(['vault', 'auth'], bodyAt);
  switch (type) {
    case 'token_file':
      known(['token_file_path']);
      return { tokenFile: { value: c.token_file_path, at: cAt('token_file_path') } };
    case 'approle':
      known(['role_id_file_path', 'secret_id_file_path', 'remove_secret_id_file_after_reading']);
      take('role_id_file_path', 'role_id_file');
      take('secret_id_file_path', 'secret_id_file');
      take('remove_secret_id_file_after_reading', 'remove_secret_id_file');
      return { login };
    case 'kubernetes':
      known(['role', 'token_path']);
      take('role', 'role');
      take('token_path', 'token_path');
      return { login };
    default:
      s.refuse(path, bodyAt, `the auto_auth method "${type}" is not supported (supported: token_file, approle, kubernetes)`);
      return undefined;
  }
}

function mapTemplate(input: Obj, i: number, s: Sink): Obj {
  const t: Obj = { ...input };
  const at = (k: string): PathSeg[] => ['template', i, k];
  const name = (k: string) => `template.${i}.${k}`;
  if ('wait' in t) {
    s.warn(name('wait'), at('wait'), `accepted and ignored: ${NO_WAIT}`);
    delete t.wait;
  }
  if ('error_fatal' in t) {
    s.warn(name('error_fatal'), at('error_fatal'), 'accepted and ignored: a failing template never stops the others; its group is not written and the exit code is 1');
    delete t.error_fatal;
  }
  // function_denylist and sandbox_path are native keys. A name that disables nothing is
  // a warning, not an error: consul-template ignores it, and no template can call it.
  for (const k of ['function_denylist', 'function_blacklist']) {
    if (!Array.isArray(t[k])) continue;
    (t[k] as unknown[]).forEach((fn, j) => {
      const gap = typeof fn === 'string' ? denylistGap(fn) : undefined;
      if (gap) s.notice(`${name(k)}.${j}`, [...at(k), j], gap);
    });
  }
  // consul-template's old name: appended to function_denylist, as its Finalize() does.
  if ('function_blacklist' in t) {
    const old = t.function_blacklist;
    delete t.function_blacklist;
    if (!('function_denylist' in t)) {
      t.function_denylist = old;
      s.move(['template', i, 'function_denylist'], at('function_blacklist'));
    } else if (Array.isArray(old) && Array.isArray(t.function_denylist)) {
      t.function_denylist = [...t.function_denylist, ...old];
      s.touch();
    } else s.refuse(name('function_blacklist'), at('function_blacklist'), 'expected a list of function names, as function_denylist');
  }
  if ('exec' in t) {
    const e = block(t.exec, at('exec'));
    delete t.exec;
    if (!e) s.refuse(name('exec'), at('exec'), 'expected a block: exec { command timeout }');
    for (const [k, v] of Object.entries(e?.body ?? {})) {
      if (k === 'command') {
        t.command = v;
        s.move(['template', i, 'command'], [...e!.at, k]);
      } else if (k === 'timeout') {
        t.command_timeout = v;
        s.move(['template', i, 'command_timeout'], [...e!.at, k]);
      } else s.refuse(`${name('exec')}.${k}`, [...e!.at, k], 'unknown key (template exec takes command and timeout)');
    }
  }
  return t;
}

/** After the merge: `default_delimiters { left right }` fill the delimiters of templates that set none. */
export function finishCompat(raw: Obj): Obj {
  if (!('default_delimiters' in raw)) return raw;
  const { default_delimiters: d, ...rest } = raw;
  if (!isObj(d) || !Array.isArray(rest.template)) return rest;
  rest.template = rest.template.map((t) =>
    isObj(t)
      ? {
          ...t,
          ...(t.left_delimiter === undefined && d.left !== undefined ? { left_delimiter: d.left } : {}),
          ...(t.right_delimiter === undefined && d.right !== undefined ? { right_delimiter: d.right } : {}),
        }
      : t,
  );
  return rest;
}
