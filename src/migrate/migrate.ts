/**
 * `certrender migrate`: reads a consul-template config (HCL1 or JSON, files or
 * directories) and its templates, and writes into `outDir` a native certrender config
 * with explicit named hooks, the templates translated to nunjucks where the translation
 * is byte-identical (else kept as Go templates), and a report of every behaviour that
 * changes. The source files are only read.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { parseConfigText } from '../config/load-config.js';
import { CertrenderError } from '../errors.js';
import { commandArgv } from '../hooks/plan-hooks.js';
import { translateGoTemplate } from '../template/go/to-nunjucks.js';

export interface MigrateOptions {
  configPaths: string[];
  outDir: string;
  cwd: string;
  /** false (--no-translate): keep every template as a Go template. */
  translate: boolean;
  /** Write into a non-empty outDir. */
  force?: boolean;
}

export interface MigratedTemplate {
  from: string;
  to: string;
  engine: 'go' | 'nunjucks';
  warnings: string[];
}

export interface MigrateResult {
  configPath: string;
  templates: MigratedTemplate[];
  /** Markdown. */
  report: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** HCL1 gives a block as a list of objects: the last one wins. */
const block = (v: unknown): Obj | undefined => (Array.isArray(v) ? (v.filter(isObj).pop() as Obj | undefined) : isObj(v) ? v : undefined);

/** vault {} keys the native schema has under the same name. */
const VAULT_KEYS = ['address', 'namespace', 'token', 'vault_agent_token_file', 'renew_token'];
const VAULT_BLOCKS: Record<string, string[]> = {
  ssl: ['enabled', 'verify', 'cert', 'key', 'ca_cert', 'ca_path', 'server_name'],
  retry: ['enabled', 'attempts', 'backoff', 'max_backoff'],
};
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
/** Template keys handled here; any other is reported as dropped. */
const TEMPLATE_KEYS = new Set(['source', 'contents', 'destination', 'command', 'command_timeout', 'exec', 'perms', 'user', 'group', 'backup', 'create_dest_dirs',
  'left_delimiter', 'right_delimiter', 'error_on_missing_key', 'function_denylist', 'function_blacklist', 'sandbox_path']);

const WHY_DROPPED: Record<string, string> = {
  wait: 'certrender renders each cycle at once; there is no quiescence timer',
  exec: 'certrender does not supervise a child process; run it under systemd and restart it from a hook',
  reload_signal: 'certrender re-reads its config on restart only',
  kill_signal: 'certrender stops gracefully on SIGTERM and SIGINT',
  pid_file: 'use the CLI flag -pid-file or systemd',
  syslog: 'certrender logs JSON lines on stderr (journald collects them)',
  log_file: 'certrender logs JSON lines on stderr (journald collects them)',
  consul: 'certrender does not talk to Consul',
  nomad: 'certrender does not talk to Nomad',
  deduplicate: 'consul-template deduplication needs Consul',
  max_stale: 'a Consul setting',
  once: 'choose `certrender once` or `certrender run` on the command line',
  template_error_fatal: 'a failing template is reported and its group not written; the others are',
  err_on_failed_lookup: 'use error_on_missing_key per template',
  default_delimiters: 'applied while translating; the nunjucks files use nunjucks delimiters',
  sink: 'Vault Agent sinks are outside certrender', cache: 'Vault Agent caching is outside certrender', listener: 'Vault Agent listeners are outside certrender',
};

export async function migrate(opts: MigrateOptions): Promise<MigrateResult> {
  const outDir = resolve(opts.cwd, opts.outDir);
  await ensureEmpty(outDir, opts.force ?? false);

  const files: string[] = [];
  for (const p of opts.configPaths) files.push(...(await expand(resolve(opts.cwd, p))));
  const raws = await Promise.all(files.map(async (file) => parseConfigText({ text: await readFile(file, 'utf8'), file }).raw));
  const merged = mergeConsulTemplate(raws);

  const notes: string[] = [];
  const dropped = (key: string, why = WHY_DROPPED[key] ?? 'not a certrender setting') => notes.push(`\`${key}\` dropped: ${why}`);
  for (const key of Object.keys(merged)) if (!['template', 'vault', 'log_level', 'default_delimiters'].includes(key)) dropped(key);
  if (merged.default_delimiters !== undefined) dropped('default_delimiters');
  const delims = block(merged.default_delimiters) ?? {};

  // Hooks: every command, deduplicated by what it runs, in config order.
  const templatesRaw = (Array.isArray(merged.template) ? merged.template : []).filter(isObj);
  const hooks: { name: string; argv: string[]; shell: boolean; order: number; timeout: string; templates: number[] }[] = [];
  const notifyOf = templatesRaw.map((t, i) => {
    const exec = block(t.exec);
    const command = exec?.command ?? t.command;
    if (command === undefined) return [];
    const { argv, shell } = commandArgv(command as string | string[]);
    if (argv.length === 0) return [];
    const timeout = String(exec?.timeout ?? t.command_timeout ?? '30s');
    let h = hooks.find((x) => x.shell === shell && JSON.stringify(x.argv) === JSON.stringify(argv));
    if (!h) {
      h = { name: hookName(argv, shell, hooks.map((x) => x.name)), argv, shell, order: (hooks.length + 1) * 10, timeout, templates: [] };
      hooks.push(h);
    } else if (h.timeout !== timeout) {
      notes.push(`hook "${h.name}": templates give different command timeouts; kept ${h.timeout}`);
    }
    h.templates.push(i);
    return [h.name];
  });

  // Templates.
  await mkdir(join(outDir, 'templates'), { recursive: true });
  const taken = new Set<string>();
  const templates: MigratedTemplate[] = [];
  const templateBlocks: string[] = [];
  for (const [i, t] of templatesRaw.entries()) {
    const from = typeof t.source === 'string' ? resolve(opts.cwd, t.source) : `template ${i + 1} (contents)`;
    const text = typeof t.source === 'string' ? await readTemplate(from) : String(t.contents ?? '');
    const stem = uniqueStem(typeof t.source === 'string' ? basename(t.source, extname(t.source)) : `template-${i + 1}`, taken);
    const left = (t.left_delimiter ?? delims.left) as string | undefined;
    const right = (t.right_delimiter ?? delims.right) as string | undefined;
    const warnings: string[] = [];
    let engine: 'go' | 'nunjucks' = 'go';
    let out = text;
    if (!opts.translate) warnings.push('kept as a Go template (--no-translate)');
    else if (t.error_on_missing_key === true) warnings.push(`${from}: kept as a Go template: error_on_missing_key has no exact nunjucks equivalent`);
    else {
      const r = translateGoTemplate({ text, name: from, leftDelimiter: left, rightDelimiter: right });
      warnings.push(...r.warnings);
      if (r.ok) [engine, out] = ['nunjucks', r.text];
      else if (r.text) await writeFile(join(outDir, 'templates', `${stem}.njk.draft`), r.text);
    }
    const to = join(outDir, 'templates', `${stem}${engine === 'nunjucks' ? '.njk' : '.tpl'}`);
    await writeFile(to, out);
    templates.push({ from, to, engine, warnings });
    for (const key of Object.keys(t)) if (!TEMPLATE_KEYS.has(key)) notes.push(`template ${i + 1} (${from}): \`${key}\` dropped: ${WHY_DROPPED[key] ?? 'not a certrender setting'}`);
    // function_blacklist is consul-template's old name: appended to function_denylist, as its Finalize() does.
    const denylist = [t.function_denylist, t.function_blacklist].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
    const sandbox = typeof t.sandbox_path === 'string' ? resolve(opts.cwd, t.sandbox_path) : undefined;
    templateBlocks.push(templateHcl({ t, to, engine, left, right, notify: notifyOf[i], from, denylist: denylist.length ? denylist : undefined, sandbox }));
  }

  const vault = vaultHcl(block(merged.vault), notes);
  const logLevel = typeof merged.log_level === 'string' && LOG_LEVELS.includes(merged.log_level.toLowerCase()) ? merged.log_level.toLowerCase() : undefined;
  if (merged.log_level !== undefined && !logLevel) dropped('log_level', `"${String(merged.log_level)}" is not a certrender level`);

  const lines = [
    '# certrender config written by `certrender migrate` from:',
    ...files.map((f) => `#   ${f}`),
    '# See MIGRATION.md next to this file for what behaves differently from consul-template.',
    '',
    ...(logLevel ? [`log_level = ${hcl(logLevel)}`, ''] : []),
    ...(vault ? [vault, ''] : []),
    ...(hooks.length ? ['# consul-template ran these commands after a pass, in config order, each once.', '# They are named hooks now: templates notify them, and they run in ascending order.'] : []),
    ...hooks.flatMap((h) => [
      `hook ${hcl(h.name)} {`,
      `  command = ${hcl(h.shell ? h.argv[0] : h.argv)}`,
      ...(h.shell ? ['  shell   = true'] : []),
      `  order   = ${h.order}`,
      `  timeout = ${hcl(h.timeout)}`,
      '}',
      '',
    ]),
    ...templateBlocks.flatMap((b) => [b, '']),
  ];
  const configPath = join(outDir, 'certrender.hcl');
  await writeFile(configPath, lines.join('\n'));

  const report = renderReport({ files, configPath, templates, hooks, notes, templatesRaw });
  await writeFile(join(outDir, 'MIGRATION.md'), report);
  return { configPath, templates, report };
}

// ---------------------------------------------------------------------------- config

/** consul-template's merge: templates append, blocks merge key by key, the right-most wins. */
function mergeConsulTemplate(raws: Obj[]): Obj {
  const merge = (a: unknown, b: unknown): unknown => {
    const [x, y] = [block(a), block(b)];
    if (!x || !y) return b;
    const out: Obj = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = k in out ? merge(out[k], v) : v;
    return out;
  };
  const out: Obj = {};
  for (const raw of raws) {
    for (const [k, v] of Object.entries(raw)) {
      if (k === 'template') out.template = [...((out.template as unknown[]) ?? []), ...(Array.isArray(v) ? v : [v])];
      else out[k] = k in out ? merge(out[k], v) : v;
    }
  }
  return out;
}

function vaultHcl(v: Obj | undefined, notes: string[]): string | undefined {
  if (!v) return undefined;
  const body: string[] = [];
  for (const [k, val] of Object.entries(v)) {
    if (VAULT_KEYS.includes(k)) body.push(`  ${k} = ${hcl(val)}`);
    else if (k in VAULT_BLOCKS) {
      const b = block(val) ?? {};
      const keep = Object.entries(b).filter(([bk]) => VAULT_BLOCKS[k].includes(bk));
      for (const bk of Object.keys(b)) if (!VAULT_BLOCKS[k].includes(bk)) notes.push(`\`vault.${k}.${bk}\` dropped: not a certrender setting`);
      body.push(`  ${k} {`, ...keep.map(([bk, bv]) => `    ${bk} = ${hcl(bv)}`), '  }');
    } else if (k === 'lease_renewal_threshold') {
      notes.push('`vault.lease_renewal_threshold` dropped: certrender renews at 2/3 of the lifetime (set top-level `lease_renewal_threshold` to keep the old point)');
    } else notes.push(`\`vault.${k}\` dropped: not a certrender setting`);
  }
  if ('token' in v) notes.push('`vault.token` was copied into the new config: prefer `vault_agent_token_file` or `VAULT_TOKEN`');
  return ['vault {', ...body, '}'].join('\n');
}

function templateHcl(o: { t: Obj; to: string; engine: 'go' | 'nunjucks'; left?: string; right?: string; notify: string[]; from: string; denylist?: unknown[]; sandbox?: string }): string {
  const { t } = o;
  const line = (k: string, v: unknown) => (v === undefined ? [] : [`  ${k.padEnd(16)} = ${k === 'perms' ? perms(v) : hcl(v)}`]);
  return [
    `# from ${o.from}${o.engine === 'go' ? ' (kept as a Go template: see MIGRATION.md)' : ''}`,
    'template {',
    ...line('source', o.to),
    ...line('destination', t.destination),
    ...(o.engine === 'go' ? [...line('engine', 'go'), ...line('left_delimiter', o.left), ...line('right_delimiter', o.right), ...line('error_on_missing_key', t.error_on_missing_key)] : []),
    ...line('perms', t.perms),
    ...line('user', t.user),
    ...line('group', t.group),
    ...line('backup', t.backup),
    ...line('create_dest_dirs', t.create_dest_dirs),
    ...line('function_denylist', o.denylist),
    ...line('sandbox_path', o.sandbox),
    ...(o.notify.length ? line('notify', o.notify) : []),
    '}',
  ].join('\n');
}

/** A mode as HCL1's octal literal. */
function perms(v: unknown): string {
  const n = typeof v === 'number' ? v : parseInt(String(v), 8);
  return Number.isNaN(n) ? hcl(v) : `0${n.toString(8).padStart(3, '0')}`;
}

function hcl(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(hcl).join(', ')}]`;
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
  return String(v);
}

/** `systemctl reload nginx` -> "systemctl-reload-nginx"; unique among `taken`. */
function hookName(argv: string[], shell: boolean, taken: string[]): string {
  const words = (shell ? argv[0].split(/\s+/) : argv).filter((w) => !/^-|^(sudo|sh|bash|env)$/.test(w)).map((w) => basename(w));
  const base = words.slice(0, 3).join('-').replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'hook';
  let name = base;
  for (let n = 2; taken.includes(name); n++) name = `${base}-${n}`;
  return name;
}

function uniqueStem(stem: string, taken: Set<string>): string {
  let s = stem.replace(/[^A-Za-z0-9_.-]+/g, '-') || 'template';
  for (let n = 2; taken.has(s); n++) s = `${stem}-${n}`;
  taken.add(s);
  return s;
}

// ---------------------------------------------------------------------------- files

async function ensureEmpty(dir: string, force: boolean): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw new CertrenderError('CR_WRITE', `cannot read ${dir}: ${e.code}`, { cause: e, context: { path: dir } });
  });
  if (entries.length > 0 && !force) {
    throw new CertrenderError('CR_USAGE', `${dir} is not empty`, { hint: 'choose an empty output directory, or pass --force to write into it', context: { path: dir } });
  }
  await mkdir(dir, { recursive: true });
}

/** A file, or a directory's files walked recursively in lexical order (consul-template's rule). */
async function expand(path: string): Promise<string[]> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new CertrenderError('CR_CONFIG_READ', `cannot read config ${path}: ${e.code}`, { cause: e, hint: 'check the -config path', context: { file: path } });
  });
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of (await readdir(path)).sort()) out.push(...(await expand(join(path, name))));
  return out;
}

async function readTemplate(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CertrenderError('CR_TEMPLATE_READ', `cannot read template ${path}: ${e.code}`, { cause: e, hint: 'template sources resolve against the working directory', context: { file: path } });
  });
}

// ---------------------------------------------------------------------------- report

function renderReport(o: {
  files: string[];
  configPath: string;
  templates: MigratedTemplate[];
  hooks: { name: string; argv: string[]; shell: boolean; order: number; templates: number[] }[];
  notes: string[];
  templatesRaw: Obj[];
}): string {
  const translated = o.templates.filter((t) => t.engine === 'nunjucks').length;
  const hasPerms = o.templatesRaw.some((t) => t.perms !== undefined);
  const out = [
    '# Migration from consul-template',
    '',
    `Read ${o.files.map((f) => `\`${f}\``).join(', ')}; wrote \`${o.configPath}\`.`,
    `${o.templates.length} template(s): ${translated} translated to nunjucks, ${o.templates.length - translated} kept as Go templates (\`engine = "go"\`, rendered byte-identical to consul-template).`,
    '',
    '## Behaviour that changes',
    '',
    '- **Re-issue on start**: consul-template issues a new certificate for every `secret` write on every start and SIGHUP; certrender reuses a stored issuance while it is valid, matches the request, chains to the expected CA and is outside its renewal window (2/3 of the lifetime by default).',
    '- **Dry run**: `consul-template -dry` still calls Vault write endpoints, so it issues certificates; `certrender plan` (and `-dry`) calls no write endpoint, writes nothing and runs no hook. Files that depend on an issuance show as unknown; private keys are redacted.',
    '- **SIGTERM**: consul-template ignores it by default (systemd waits 90 s, then kills); certrender stops gracefully on SIGTERM and SIGINT.',
    '- **Command failures**: consul-template exits when a command fails; certrender stops the hook sequence at the failed hook, reports it and keeps running (`hook_failure = "continue"` runs the rest; each hook can set `on_failure`).',
    `- **Key file modes**: a rendered file holding a private key is written 0600 unless \`perms\` is set${hasPerms ? ' (some templates here set it: their mode is kept)' : ''}; consul-template kept the existing mode or used 0644.`,
    '- **Atomic groups**: the files of one issuance (certificate, key, chain, `writeToFile` targets) are validated and swapped together, or not at all; consul-template wrote each file on its own.',
    '- **Validation**: nothing is written before the issuance Vault returned is checked (key matches the certificate, chain to the trust anchor, names, validity).',
    '- **Commands** run as named hooks in the order below, once per cycle, only when a template notifying them was written; a single string with spaces still runs through `sh -c`.',
    '',
  ];
  if (o.hooks.length) {
    out.push('## Hooks', '', '| order | hook | runs | shell | notified by |', '|---|---|---|---|---|');
    for (const h of o.hooks) out.push(`| ${h.order} | \`${h.name}\` | \`${h.shell ? h.argv[0] : h.argv.join(' ')}\` | ${h.shell ? 'yes' : 'no'} | ${h.templates.map((i) => `template ${i + 1}`).join(', ')} |`);
    out.push('');
  }
  out.push('## Templates', '', 'A translated template renders the same bytes as the Go original for the same data; Go comments (`{{/* */}}`) are not carried into the `.njk` files. Anything the translator could not express exactly stays a Go template.', '');
  for (const t of o.templates) {
    out.push(`- \`${t.from}\` → \`${t.to}\` (${t.engine})`);
    for (const w of t.warnings) out.push(`  - ${w}`);
    if (t.engine === 'go' && t.warnings.some((w) => w.includes('cannot translate'))) out.push(`  - a draft with TODO comments is next to it: \`${t.to.replace(/\.tpl$/, '.njk.draft')}\``);
  }
  out.push('');
  const fnGaps = [...new Set(o.templates.flatMap((t) => t.warnings).map((w) => /Go's (\w+) has no nunjucks equivalent/.exec(w)?.[1]).filter(Boolean))];
  if (fnGaps.length) out.push('## Functions without a nunjucks equivalent', '', `Go builtins used here that certrender's nunjucks runtime does not provide: ${fnGaps.map((f) => `\`${f}\``).join(', ')}. Templates using them stay Go templates.`, '');
  const refused = o.templates.flatMap((t) => t.warnings).filter((w) => /refused|not defined/.test(w));
  if (refused.length) out.push('## Unsupported functions', '', ...refused.map((w) => `- ${w}`), '');
  if (o.notes.length) out.push('## Settings not carried over', '', ...o.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}
