/**
 * One error family for every failure a user can reach. Expected outcomes are data
 * ({ ok: false, problems }); exceptions carry a stable code, a hint and a cause.
 * Tests assert codes, never messages.
 */
export type ErrorCode =
  | 'CR_USAGE'
  | 'CR_CONFIG_INVALID'
  | 'CR_CONFIG_READ'
  | 'CR_TEMPLATE_READ'
  | 'CR_TEMPLATE_SYNTAX'
  | 'CR_TEMPLATE_RENDER'
  | 'CR_TEMPLATE_FUNCTION'
  | 'CR_VAULT_HTTP'
  | 'CR_VAULT_NETWORK'
  | 'CR_VAULT_AUTH'
  | 'CR_VAULT_RESPONSE'
  | 'CR_LOCAL_CA'
  | 'CR_LOCAL_UNSUPPORTED_PATH'
  | 'CR_KV_CAS'
  | 'CR_PEM_INVALID'
  | 'CR_CHAIN_UNTRUSTED'
  | 'CR_VALIDATION_FAILED'
  | 'CR_STATE'
  | 'CR_STATE_LOCKED'
  | 'CR_WRITE'
  | 'CR_JOURNAL'
  | 'CR_INTERNAL';

export interface CertrenderErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Structured context (file, line, path, template, destination, rule...). Never secrets. */
  context?: Record<string, unknown>;
}

export class CertrenderError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly context?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: CertrenderErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CertrenderError';
    this.code = code;
    this.hint = opts.hint;
    this.context = opts.context;
  }
}

export function isCertrenderError(e: unknown): e is CertrenderError {
  return e instanceof CertrenderError;
}

/**
 * Documented exit codes (README "Exit codes"):
 *  0 success (including "nothing to do")
 *  1 the cycle ran but at least one group was rejected or failed to write
 *  2 usage or configuration error (nothing was attempted)
 *  3 Vault/backend unreachable or refused (nothing written for the affected groups)
 *  4 state directory problem (locked, unreadable, journal unrecoverable)
 * 70 internal error (a bug: please report it)
 */
export const EXIT = {
  OK: 0,
  CYCLE_FAILED: 1,
  USAGE: 2,
  BACKEND: 3,
  STATE: 4,
  INTERNAL: 70,
} as const;

export function exitCodeFor(e: unknown): number {
  if (!isCertrenderError(e)) return EXIT.INTERNAL;
  switch (e.code) {
    case 'CR_USAGE':
    case 'CR_CONFIG_INVALID':
    case 'CR_CONFIG_READ':
    case 'CR_TEMPLATE_READ':
    case 'CR_TEMPLATE_SYNTAX':
      return EXIT.USAGE;
    case 'CR_VAULT_HTTP':
    case 'CR_VAULT_NETWORK':
    case 'CR_VAULT_AUTH':
    case 'CR_VAULT_RESPONSE':
      return EXIT.BACKEND;
    case 'CR_STATE':
    case 'CR_STATE_LOCKED':
    case 'CR_JOURNAL':
      return EXIT.STATE;
    case 'CR_INTERNAL':
      return EXIT.INTERNAL;
    default:
      return EXIT.CYCLE_FAILED;
  }
}
