/**
 * JSON lines on stderr, each with a snake_case `event`, in pino's shape (`level`,
 * `time`, `pid`, the fields, `event`). stdout is for command output only. Secrets never
 * reach a log line: known secret keys are redacted, and any string value that carries a
 * PEM private key block or a Vault token is masked.
 *
 * Written here rather than through pino: these few lines are all certrender used of it,
 * and loading pino and sonic-boom cost ~40 ms at every start (docs/decisions.md).
 * Lines are written synchronously (stderr is synchronous for files, pipes and TTYs on
 * Linux), so nothing is lost at process.exit.
 */
import { writeSync } from 'node:fs';

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  setLevel(level: Level): void;
}

const SECRET_KEYS = ['token', 'client_token', 'private_key', 'privateKey', 'secret_id', 'password', 'key_pem', 'keyPem'];

const PRIVATE_KEY_RE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const TOKEN_RE = /\b(hvs|hvb|hvr|s|b|r)\.[A-Za-z0-9_-]{20,}\b/g;

/** Mask private key blocks and Vault-looking tokens inside free text. */
export function scrubSecrets(text: string): string {
  return text.replace(PRIVATE_KEY_RE, '[REDACTED PRIVATE KEY]').replace(TOKEN_RE, '[REDACTED TOKEN]');
}

function scrubValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrubSecrets(v);
  if (depth > 6 || v === null || typeof v !== 'object') return v;
  if (v instanceof Error) return scrubValue(errorFields(v), depth + 1);
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEYS.includes(k) ? '[REDACTED]' : scrubValue(x, depth + 1);
  return out;
}

/** A log-safe view of an error: code, message, hint, context; never the raw cause object. */
export function errorFields(e: unknown): Record<string, unknown> {
  if (e instanceof Error) {
    const anyE = e as Error & { code?: unknown; hint?: unknown; context?: unknown };
    return {
      code: anyE.code,
      message: scrubSecrets(e.message),
      hint: anyE.hint,
      context: anyE.context,
      cause: e.cause instanceof Error ? scrubSecrets(e.cause.message) : undefined,
    };
  }
  return { message: scrubSecrets(String(e)) };
}

const LEVELS: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** JSON.stringify that survives what a log field may hold: cycles and bigints. */
function toJson(line: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(line, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object') {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
}

export function createLogger(opts: { level?: Level; destination?: NodeJS.WritableStream | number } = {}): Logger {
  let threshold = LEVELS[opts.level ?? 'info'];
  const d = opts.destination;
  const write: (line: string) => void =
    typeof d === 'object' ? (line) => void d.write(line) : d === undefined || d === 2 ? (line) => void process.stderr.write(line) : (line) => void writeSync(d, line);
  const emit = (lvl: 'debug' | 'info' | 'warn' | 'error') => (event: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[lvl] < threshold) return;
    write(`${toJson({ level: lvl, time: new Date().toISOString(), pid: process.pid, ...(scrubValue(fields) as object), event })}\n`);
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    setLevel: (level) => {
      threshold = LEVELS[level];
    },
  };
}

/** A logger that drops everything (for pure callers and tests that do not look). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
};
