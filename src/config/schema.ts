/**
 * The one schema of certrender's native config. HCL and JSON front doors both produce
 * a raw object that this schema validates; types are inferred from it, and
 * schema/certrender.schema.json is generated from it (scripts/gen-schema.mjs).
 *
 * Durations are strings ("30s", "5m", "17520h") in the file and milliseconds after
 * parsing. Modes (`perms`) are numbers, or strings read in base 8 ("0600").
 */
// A namespace import, not `import { z }`: esbuild can then drop the zod it never reaches
// (the bundle's zod went from ~800 KB with every locale to ~250 KB, ~40 ms of start-up).
import * as z from 'zod';
import { parseDuration } from './duration.js';
import { parseCron } from '../daemon/cron.js';

const duration = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    if (typeof v === 'number') {
      if (v >= 0) return v * 1000; // a bare number is seconds, as in consul-template
      ctx.addIssue({ code: 'custom', message: `not a duration: ${v} (must not be negative)` });
      return z.NEVER;
    }
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a duration: "${v}" (use e.g. "30s", "5m", "17520h")` });
      return z.NEVER;
    }
    return ms;
  });

const fileMode = z.union([z.number().int(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') {
    if (v < 0 || v > 0o7777) {
      ctx.addIssue({ code: 'custom', message: `file mode out of range: ${v}` });
      return z.NEVER;
    }
    return v;
  }
  if (!/^0?[0-7]{3,4}$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: `not an octal file mode: "${v}" (use e.g. "0600")` });
    return z.NEVER;
  }
  return parseInt(v, 8);
});

const fraction = z.number().gt(0).lt(1);

// zod schemas are immutable: one instance serves every optional string and boolean field
// (building the config schema is ~10 ms of every start; each chained call builds one more).
const optionalString = z.string().optional();
const optionalBoolean = z.boolean().optional();

const cronExpr = z.string().superRefine((v, ctx) => {
  try {
    parseCron(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const retrySchema = z
  .object({
    enabled: z.boolean().default(true),
    attempts: z.number().int().min(0).default(12),
    backoff: duration.default(250),
    max_backoff: duration.default(60_000),
  })
  .strict();

export const sslSchema = z
  .object({
    enabled: optionalBoolean,
    verify: optionalBoolean,
    cert: optionalString,
    key: optionalString,
    ca_cert: optionalString,
    ca_path: optionalString,
    server_name: optionalString,
  })
  .strict();

/** How certrender logs in when no token is given (Vault Agent auto_auth, consul-template k8s_*). */
export const vaultAuthSchema = z
  .object({
    method: z.enum(['approle', 'kubernetes']),
    /** Where the method is mounted, without "auth/" (default: the method's name). */
    mount_path: z.string().min(1).optional(),
    /** approle: files holding the role_id and the secret_id. */
    role_id_file: optionalString,
    secret_id_file: optionalString,
    /** approle: delete the secret_id file after reading it (the Agent's default). */
    remove_secret_id_file: z.boolean().default(true),
    /** kubernetes: the role, and the service account token (inline jwt, or the file). */
    role: optionalString,
    jwt: optionalString,
    token_path: z.string().default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  })
  .strict()
  .superRefine((a, ctx) => {
    const need = a.method === 'approle' ? ['role_id_file', 'secret_id_file'] : ['role'];
    for (const k of need) if (a[k as keyof typeof a] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `the ${a.method} method needs "${k}"` });
  });

export const vaultSchema = z
  .object({
    address: optionalString,
    namespace: optionalString,
    token: optionalString,
    /** File holding the token; re-read at every cycle. consul-template: vault_agent_token_file. */
    token_file: optionalString,
    vault_agent_token_file: optionalString,
    renew_token: optionalBoolean,
    ca_cert: optionalString,
    ca_path: optionalString,
    client_cert: optionalString,
    client_key: optionalString,
    tls_server_name: optionalString,
    tls_skip_verify: optionalBoolean,
    ssl: sslSchema.optional(),
    retry: retrySchema.optional(),
    /** Per-request timeout. */
    timeout: duration.default(30_000),
    auth: vaultAuthSchema.optional(),
  })
  .strict();

export const keyTypeSchema = z.enum(['rsa-2048', 'rsa-3072', 'rsa-4096', 'ec-p256', 'ec-p384', 'ed25519']);

export const localCaSchema = z
  .object({
    /** Common name of the CA the local backend creates on first use. */
    common_name: z.string().default('certrender local CA'),
    /** Key type of issued leaves when the request does not say (key_type/key_bits). */
    key_type: keyTypeSchema.default('ec-p256'),
    /** Key type of the CA itself. */
    ca_key_type: keyTypeSchema.default('ec-p256'),
    ttl: duration.default(30 * 24 * 3600_000),
    max_ttl: duration.default(365 * 24 * 3600_000),
    ca_ttl: duration.default(10 * 365 * 24 * 3600_000),
  })
  .strict();

export const renewSchema = z
  .object({
    /** Fraction of the lifetime after which a certificate is renewed. */
    fraction: fraction.default(2 / 3),
    /** Largest random jitter, as a fraction of the lifetime, drawn once at issuance (earlier, never later). */
    jitter: z.number().min(0).lt(0.5).default(0.05),
  })
  .strict();

export const templateSchema = z
  .object({
    source: optionalString,
    contents: optionalString,
    destination: z.string().min(1),
    /** "nunjucks" or "go"; default: nunjucks for *.njk sources and inline contents, go otherwise. */
    engine: z.enum(['nunjucks', 'go']).optional(),
    create_dest_dirs: z.boolean().default(true),
    perms: fileMode.optional(),
    user: z.union([z.string(), z.number().int()]).optional(),
    group: z.union([z.string(), z.number().int()]).optional(),
    backup: z.boolean().default(false),
    error_on_missing_key: z.boolean().default(false),
    left_delimiter: z.string().min(1).optional(),
    right_delimiter: z.string().min(1).optional(),
    /** consul-template: functions this template may not call; a call fails the render, naming the function. */
    function_denylist: z.array(z.string().min(1)).default([]),
    /** consul-template: `file` refuses paths that resolve, symlinks included, outside this directory (relative: to the working directory). */
    sandbox_path: z.string().min(1).optional(),
    /** consul-template: run after the pass when this template's file changed (an implicit hook). */
    command: z.union([z.string(), z.array(z.string())]).optional(),
    command_timeout: duration.optional(),
    /** Named hooks to run, in their declared order, when this template's group is written. */
    notify: z.array(z.string()).default([]),
  })
  .strict()
  .superRefine((t, ctx) => {
    const n = (t.source !== undefined ? 1 : 0) + (t.contents !== undefined ? 1 : 0);
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of "source" or "contents" is required' });
  });

export const failurePolicySchema = z.enum(['stop', 'continue', 'rollback']);

export const gateSchema = z
  .object({
    type: z.enum(['exec', 'tcp', 'http', 'tls']),
    /** exec: the command whose exit 0 means healthy. */
    command: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    shell: z.boolean().default(false),
    /** tcp, tls: host:port. */
    address: optionalString,
    /** http: the URL to GET. */
    url: optionalString,
    status: z.array(z.number().int()).default([200]),
    body_match: optionalString,
    ca_cert: optionalString,
    client_cert: optionalString,
    client_key: optionalString,
    /** tls: the name the served certificate must be valid for (default: the host of address). */
    server_name: optionalString,
    /** tls: a certificate file just written; the served leaf must be exactly this one. */
    expect_cert: optionalString,
    interval: duration.default(1000),
    timeout: duration.default(60_000),
  })
  .strict()
  .superRefine((g, ctx) => {
    const need: Record<string, string[]> = { exec: ['command'], tcp: ['address'], tls: ['address'], http: ['url'] };
    for (const k of need[g.type]) {
      if (g[k as keyof typeof g] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `a ${g.type} gate needs "${k}"` });
    }
  });

export const hookSchema = z
  .object({
    command: z.union([z.string(), z.array(z.string()).min(1)]),
    /** Run `command` through `sh -c` (default: argv, no shell). */
    shell: z.boolean().default(false),
    /** Hooks run in ascending order; two hooks may not share an order. */
    order: z.number().int(),
    timeout: duration.default(60_000),
    /** After the timeout: SIGTERM to the hook's process group, then SIGKILL after this. */
    grace: duration.default(5_000),
    /** What a failure (exit != 0, timeout, gate) does; default: the top-level hook_failure. */
    on_failure: failurePolicySchema.optional(),
    gate: gateSchema.optional(),
  })
  .strict();

export const sharedKeySchema = z
  .object({
    /** KV v2 path holding the key, as a template would read it: "<mount>/data/<path>". */
    kv_path: z.string().regex(/^[^/]+\/data\/.+/, 'kv_path must be a KV v2 data path: "<mount>/data/<path>"'),
    type: z.enum(['rsa-2048', 'rsa-4096', 'ec-p256', 'ed25519']).default('rsa-2048'),
  })
  .strict();

export const atomicDirSchema = z
  .object({
    /** Directory switched as a whole by one rename of a symlink (Kubernetes AtomicWriter layout). */
    path: z.string().min(1),
    /** How many previous generations to keep beside the live one. */
    keep: z.number().int().min(0).max(20).default(1),
  })
  .strict();

export const configSchema = z
  .object({
    state_dir: optionalString,
    trust_anchor: optionalString,
    vault: vaultSchema.optional(),
    local_ca: localCaSchema.optional(),
    renew: renewSchema.optional(),
    /** consul-template compat: used instead of renew.fraction only where a config sets it. */
    lease_renewal_threshold: fraction.optional(),
    /** Upper bound on concurrent backend requests during a cycle. */
    max_concurrency: z.number().int().min(1).max(64).default(4),
    /** How often reads (not issuances) are re-fetched by the daemon. */
    static_secret_render_interval: duration.default(5 * 60_000),
    /** Daemon: a cron schedule (UTC) on which disk and state are re-checked, besides the renewal timers. */
    check_schedule: cronExpr.default('*/10 * * * *'),
    /** Daemon: renewals of certificates that notify hooks happen inside these windows, unless expiry comes first. */
    renew_window: z.array(z.object({ cron: cronExpr, duration: duration }).strict()).default([]),
    /** Daemon: address for /metrics and /healthz ("127.0.0.1:9464"); off when unset. */
    listen: optionalString,
    log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
    /** consul-template `once` / Agent `exit_after_auth`: the legacy command line then runs once. */
    once: optionalBoolean,
    /** Written with certrender's pid at start, removed at exit. */
    pid_file: optionalString,
    atomic_dir: z.array(atomicDirSchema).default([]),
    /** Named restart hooks: `hook "etcd" { command order gate {...} }`. */
    hook: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'hook names are letters, digits, "_", "." and "-"'), hookSchema).default({}),
    /** Keys identical on every host, generated once and shared through Vault KV v2: `shared_key "sa" { kv_path type }`. */
    shared_key: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'shared key names are letters, digits, "_", "." and "-"'), sharedKeySchema).default({}),
    /** Default failure policy of hooks: stop (later hooks do not run), continue, or rollback. */
    hook_failure: failurePolicySchema.default('stop'),
    template: z.array(templateSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    c.template.forEach((t, i) =>
      t.notify.forEach((name, j) => {
        if (!(name in c.hook)) {
          const known = Object.keys(c.hook);
          ctx.addIssue({
            code: 'custom',
            path: ['template', i, 'notify', j],
            message: `no hook named "${name}"${known.length ? ` (hooks: ${known.join(', ')})` : ' (declare it with hook "' + name + '" { ... })'}`,
          });
        }
      }),
    );
    const byOrder = new Map<number, string>();
    for (const [name, h] of Object.entries(c.hook)) {
      const other = byOrder.get(h.order);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['hook', name, 'order'], message: `order ${h.order} is also hook "${other}"'s: the order would be ambiguous` });
      }
      byOrder.set(h.order, name);
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type TemplateConfig = z.output<typeof templateSchema>;
export type VaultConfig = z.output<typeof vaultSchema>;
export type VaultAuthConfig = z.output<typeof vaultAuthSchema>;
export type LocalCaConfig = z.output<typeof localCaSchema>;
export type KeyType = z.output<typeof keyTypeSchema>;
export type HookConfig = z.output<typeof hookSchema>;
export type SharedKeyConfig = z.output<typeof sharedKeySchema>;
export type GateConfig = z.output<typeof gateSchema>;
export type FailurePolicy = z.output<typeof failurePolicySchema>;

/** A loaded config: the validated object plus where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute paths of the files that made it, in load order. */
  files: string[];
  /** Directory relative paths resolve against (the working directory, as in consul-template). */
  baseDir: string;
  /** Non-fatal findings (e.g. local_ca with VAULT_* set). */
  warnings: string[];
}
