/**
 * The functions templates call, shared by every engine (nunjucks now, Go templates
 * next): one runtime per render, over a resolver that knows the fetched responses.
 *
 * Two-pass resolution: a call whose response is not known yet is recorded and answered
 * with an inert stub (every property is another stub, it prints as ""), so the render
 * can go on and discover every other call. The cycle fetches what was recorded and
 * renders again; the final render must make no unknown call.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { CertrenderError } from '../errors.js';
import { makeCall, type VaultCall } from './vault-call.js';
import { pkiCertView, secretView, type VaultResponse } from './vault-response.js';

export interface CallResolver {
  /** The response for a call, or undefined when it has not been fetched (yet). */
  lookup(call: VaultCall): VaultResponse | undefined;
}

export interface RuntimeOptions {
  resolver: CallResolver;
  /** Called for every Vault call the template makes, known or not. */
  onCall: (call: VaultCall, known: boolean) => void;
  /** Called for every file the template reads (watch list for the daemon). */
  onFile?: (path: string) => void;
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

/** An inert value standing for data not fetched yet (an object: nunjucks wraps functions). */
export const STUB: any = new Proxy({}, {
  get(_t, prop) {
    if (prop === Symbol.toPrimitive) return () => '';
    if (prop === 'toString' || prop === 'valueOf' || prop === 'toJSON') return () => '';
    if (prop === 'length') return 0;
    if (prop === Symbol.iterator) return function* () {};
    if (prop === 'then') return undefined;
    return STUB;
  },
});

export function isStub(v: unknown): boolean {
  return v === STUB;
}

export type TemplateRuntime = ReturnType<typeof createRuntime>;

/** Where the last error thrown by a runtime function is kept, so engines that wrap errors can recover it. */
export const LAST_ERROR = Symbol('certrender.lastError');

export function createRuntime(opts: RuntimeOptions) {
  const fns = makeFunctions(opts);
  const holder: { [LAST_ERROR]?: unknown } = {};
  const wrapped: Record<string, (...a: unknown[]) => unknown> = {};
  for (const [name, fn] of Object.entries(fns)) {
    wrapped[name] = (...a: unknown[]) => {
      try {
        return (fn as (...x: unknown[]) => unknown)(...a);
      } catch (e) {
        holder[LAST_ERROR] = e;
        throw e;
      }
    };
  }
  return Object.assign(holder, wrapped) as typeof fns & { [LAST_ERROR]?: unknown };
}

function makeFunctions(opts: RuntimeOptions) {
  const fetch = (path: unknown, args: unknown[]) => {
    const call = makeCall(path, args);
    const r = opts.resolver.lookup(call);
    opts.onCall(call, r !== undefined);
    return r;
  };
  return {
    secret(path: unknown, ...args: unknown[]) {
      const r = fetch(path, args);
      return r === undefined ? STUB : secretView(r);
    },
    pkiCert(path: unknown, ...args: unknown[]) {
      const r = fetch(path, args.length ? args : [{}]);
      return r === undefined ? STUB : pkiCertView(r);
    },
    file(path: unknown) {
      const p = resolvePath(opts.baseDir, String(path));
      opts.onFile?.(p);
      try {
        return readFileSync(p, 'utf8');
      } catch (e) {
        throw new CertrenderError('CR_TEMPLATE_FUNCTION', `file "${p}": ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
          hint: 'the file named in file(...) must exist and be readable',
          cause: e,
        });
      }
    },
    env(name: unknown) {
      return opts.env[String(name)] ?? '';
    },
    ...pureFunctions,
  };
}

/** Functions with no I/O: also registered as nunjucks filters (`x | base64Encode`). */
export const pureFunctions = {
  base64Encode: (s: unknown) => Buffer.from(String(s ?? ''), 'utf8').toString('base64'),
  base64Decode: (s: unknown) => {
    const str = String(s ?? '');
    if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(str)) {
      throw new CertrenderError('CR_TEMPLATE_FUNCTION', 'base64Decode: input is not valid base64');
    }
    return Buffer.from(str, 'base64').toString('utf8');
  },
  toJSON: (v: unknown) => (isStub(v) ? '' : JSON.stringify(sortKeys(v))),
  trimSpace: (s: unknown) => String(s ?? '').trim(),
};

/** Go's json.Marshal sorts map keys; do the same so native and Go templates agree. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
