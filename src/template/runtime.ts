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
import { TEMPLATE_FUNCTIONS } from './function-names.js';
import { RFC3339, formatGoTime } from './go-time-format.js';
import { fnError, library } from './library.js';
import { createSandbox } from './sandbox.js';
import { createScratch } from './scratch.js';
import { evalSockaddr } from './sockaddr.js';
import { STUB, isStub } from './stub.js';
import { makeCall, makeListCall, makeSharedKeyCall, makeSharedKeyCertCall, type VaultCall } from './vault-call.js';
import { sharedKeyView, type SharedKeyMaterial } from '../shared-key/shared-key-value.js';
import { pemField, pkiCertView, secretView, type VaultResponse } from './vault-response.js';

export { STUB, isStub } from './stub.js';

export interface CallResolver {
  /** The response for a call, or undefined when it has not been fetched (yet). */
  lookup(call: VaultCall): VaultResponse | undefined;
}

/** A `writeToFile` call. `content` is as given: a "newline" flag asks the writer to add "\n". */
export interface FileWrite {
  path: string;
  user: string;
  group: string;
  mode: number;
  flags: ('append' | 'newline')[];
  content: string;
}

export interface RuntimeOptions {
  resolver: CallResolver;
  /** Called for every Vault call the template makes, known or not. */
  onCall: (call: VaultCall, known: boolean) => void;
  /** Called for every file the template reads (watch list for the daemon). */
  onFile?: (path: string) => void;
  /** Called for every writeToFile whose arguments are all known; the template prints "". */
  onWrite?: (w: FileWrite) => void;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** The clock for `timestamp` (default: the system clock). */
  now?: () => Date;
  /** The template's `function_denylist`: each named function fails when called, naming itself. */
  functionDenylist?: readonly string[];
  /** The template's `sandbox_path` (relative: to baseDir): `file` refuses paths that resolve outside it. */
  sandboxPath?: string;
}

export type TemplateRuntime = ReturnType<typeof createRuntime>;

/** Where the last error thrown by a runtime function is kept, so engines that wrap errors can recover it. */
export const LAST_ERROR = Symbol('certrender.lastError');

/**
 * The functions of one render. `scratch` is both a function returning the render's
 * scratch (Go: `scratch.Set`) and carries its methods (nunjucks: `scratch.Set(...)`).
 */
export function createRuntime(opts: RuntimeOptions) {
  lastError = undefined;
  const holder = Object.defineProperty({} as { [LAST_ERROR]?: unknown }, LAST_ERROR, {
    get: () => lastError,
    set: (e: unknown) => {
      lastError = e;
    },
  });
  // The library's pure functions are wrapped once per process; only those bound to this
  // render's options are made here (a cycle makes a runtime per template and pass).
  capturedLibrary ??= captureAll(library);
  const fns = captureAll(makeFunctions(opts));
  const scratch = createScratch();
  const scratchMethods = Object.fromEntries(Object.entries(scratch).map(([k, f]) => [k, capture(f)])) as typeof scratch;
  const scratchFn = Object.assign(() => scratchMethods, scratchMethods);
  // consul-template replaces each denied function of its table (executeTemplate included, Go's builtins not).
  const deniable = (name: string) => TEMPLATE_FUNCTIONS.includes(name) || name === 'executeTemplate';
  const denied: Record<string, (...a: unknown[]) => unknown> = Object.fromEntries((opts.functionDenylist ?? []).filter(deniable).map((name) => [name, deniedFunction(name)]));
  return Object.assign(holder, capturedLibrary, fns, { scratch: scratchFn }, denied) as typeof library & typeof fns & { scratch: typeof scratchFn; [LAST_ERROR]?: unknown };
}

/**
 * The error thrown last by a runtime function, read by engines that wrap errors (through
 * `runtime[LAST_ERROR]`). One slot serves every runtime: renders are synchronous, one at
 * a time, and each new runtime clears it.
 */
let lastError: unknown;
let capturedLibrary: typeof library | undefined;

function capture<F extends (...a: any[]) => unknown>(fn: F): F {
  return ((...a: unknown[]) => {
    try {
      return fn(...a);
    } catch (e) {
      lastError = e;
      throw e;
    }
  }) as F;
}

function captureAll<T extends object>(fns: T): T {
  return Object.fromEntries(Object.entries(fns).map(([name, fn]) => [name, capture(fn as (...a: unknown[]) => unknown)])) as T;
}

/** A denied function: calling it, or reading a method of it (nunjucks `scratch.Set`), fails naming it. */
function deniedFunction(name: string) {
  const fail = capture((): never => {
    throw new CertrenderError('CR_TEMPLATE_FUNCTION', `function "${name}" is disabled by this template's function_denylist`, {
      hint: `remove the call from the template, or "${name}" from function_denylist`,
      context: { function: name },
    });
  });
  return new Proxy(fail, { get: (f, p, r) => (typeof p === 'symbol' || p in Function.prototype ? Reflect.get(f, p, r) : fail()) });
}

function makeFunctions(opts: RuntimeOptions) {
  const fetch = (call: VaultCall) => {
    const r = opts.resolver.lookup(call);
    opts.onCall(call, r !== undefined);
    return r;
  };
  const env = (name: unknown) => opts.env[String(name)];
  const sandbox = opts.sandboxPath === undefined ? undefined : createSandbox(resolvePath(opts.baseDir, opts.sandboxPath));
  return {
    secret(path: unknown, ...args: unknown[]) {
      const r = fetch(makeCall(path, args));
      return r === undefined ? STUB : secretView(r);
    },
    /** consul-template's `secrets`: the sorted keys a LIST returns. */
    secrets(path: unknown) {
      if (path === '' || isStub(path)) return [];
      const r = fetch(makeListCall(path));
      if (r === undefined) return STUB;
      const keys: unknown = r.data?.keys;
      return Array.isArray(keys) ? keys.map(String).sort() : [];
    },
    pkiCert(path: unknown, ...args: unknown[]) {
      const r = fetch(makeCall(path, args.length ? args : [{}]));
      return r === undefined ? STUB : pkiCertView(r);
    },
    /** `sharedKey NAME`: .PrivateKey .PrivateKeyPKCS1 .PublicKey .PublicKeys of a shared_key block. */
    sharedKey(name: unknown) {
      const r = fetch(makeSharedKeyCall(name));
      return r === undefined ? STUB : sharedKeyView(r.data as SharedKeyMaterial);
    },
    /** `sharedKeyCert NAME <mount>/sign/<role> ARGS...`: pkiCert's view of a certificate on the active shared key. */
    sharedKeyCert(name: unknown, path: unknown, ...args: unknown[]) {
      const k = fetch(makeSharedKeyCall(name));
      if (k === undefined) return STUB;
      const key = k.data as SharedKeyMaterial;
      const r = fetch(makeSharedKeyCertCall({ name: key.name, fingerprint: key.active.fingerprint, path, args }));
      if (r === undefined) return STUB;
      const c = pkiCertView(r);
      const v = { Cert: c.Cert, Key: pemField(key.active.privatePem), CA: c.CA, CAChain: c.CAChain };
      return { ...v, Data: v };
    },
    file(path: unknown) {
      if (path === '' || isStub(path)) return '';
      const p = resolvePath(opts.baseDir, String(path).trim());
      opts.onFile?.(p);
      try {
        return readFileSync(sandbox ? sandbox(p) : p, 'utf8');
      } catch (e) {
        if (e instanceof CertrenderError) throw e;
        throw new CertrenderError('CR_TEMPLATE_FUNCTION', `file "${p}": ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
          hint: 'the file named in file(...) must exist and be readable',
          cause: e,
        });
      }
    },
    env(name: unknown) {
      return env(name) ?? '';
    },
    mustEnv(name: unknown) {
      const v = env(name);
      if (!v) throw fnError('mustEnv', `required environment variable ${String(name)} is empty`);
      return v;
    },
    envOrDefault(name: unknown, dflt: unknown) {
      return env(name) ?? dflt;
    },
    timestamp(...args: unknown[]) {
      if (args.length > 1) throw fnError('timestamp', `wrong number of arguments, expected 0 or 1, but got ${args.length}`);
      const now = opts.now?.() ?? new Date();
      if (args[0] === 'unix') return String(Math.floor(now.getTime() / 1000));
      return formatGoTime(now, args.length ? String(args[0]) : RFC3339);
    },
    sockaddr(...args: unknown[]) {
      const expr = args.map(String).join(' ');
      const v = evalSockaddr(expr);
      if (v === undefined) {
        throw fnError('sockaddr', `"${expr}" is not supported (supported: GetPrivateIP, GetPrivateIPs, GetPublicIP, GetInterfaceIP "name")`);
      }
      return v;
    },
    /**
     * `writeToFile PATH USER GROUP MODE [FLAGS] CONTENT`: recorded for the group's atomic swap.
     * Not confined by sandbox_path, as in consul-template: deny it to forbid writes.
     */
    writeToFile(path: unknown, user: unknown, group: unknown, mode: unknown, ...rest: unknown[]) {
      if (rest.length < 1 || rest.length > 2) throw fnError('writeToFile', 'expected PATH USER GROUP MODE [append|newline] CONTENT');
      const all = [path, user, group, mode, ...rest];
      if (all.some(isStub)) return '';
      const [p, u, g, m, ...r] = all.map((a) => (typeof a === 'string' ? a : String(a ?? '')));
      if (!/^[0-7]+$/.test(m) || parseInt(m, 8) > 0o7777) throw fnError('writeToFile', `invalid mode ${JSON.stringify(m)} (octal, like "0644")`);
      if (!p.trim()) throw fnError('writeToFile', 'empty path');
      const flagText = r.length === 2 ? r[0] : '';
      const flags = (['append', 'newline'] as const).filter((f) => flagText.includes(f));
      opts.onWrite?.({ path: resolvePath(opts.baseDir, p), user: u, group: g, mode: parseInt(m, 8), flags, content: r[r.length - 1] });
      return '';
    },
  };
}
