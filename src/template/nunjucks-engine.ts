/** The native engine: nunjucks, autoescape off, synchronous, custom delimiters. */
import nunjucks from 'nunjucks';
import { CertrenderError } from '../errors.js';
import type { CompileOptions, CompiledTemplate, TemplateEngine } from './engine.js';
import { library } from './library.js';
import { LAST_ERROR, type TemplateRuntime } from './runtime.js';

function makeEnv(opts: CompileOptions, runtime: () => TemplateRuntime): nunjucks.Environment {
  const tags =
    opts.leftDelimiter || opts.rightDelimiter
      ? { variableStart: opts.leftDelimiter ?? '{{', variableEnd: opts.rightDelimiter ?? '}}' }
      : undefined;
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: opts.errorOnMissingKey, tags });
  // The pure functions as filters, served by the render's runtime (so its function_denylist
  // applies): the piped value is the LAST argument, as in a Go pipeline (`"a,b" | split(",")`).
  for (const name of Object.keys(library)) {
    env.addFilter(name, (piped: unknown, ...rest: unknown[]) => (runtime()[name as keyof typeof library] as (...a: unknown[]) => unknown)(...rest, piped));
  }
  return env;
}

/**
 * nunjucks reports 1-based positions for its own errors, but 0-based ones for an
 * error thrown inside the template (a function, a bad member call), which it wraps as
 * "<Name>Error: message". Return 1-based positions either way.
 */
function position(msg: string): { line?: number; col?: number } {
  const pos = /\[Line (\d+), Column (\d+)\]/.exec(msg);
  if (!pos) return {};
  const wrapped = /\[Line \d+, Column \d+\]\s*\w*Error: /.test(msg);
  const shift = wrapped ? 1 : 0;
  return { line: Number(pos[1]) + shift, col: Number(pos[2]) + shift };
}

/** nunjucks prefixes "(name) [Line L, Column C]" to its messages; pull the position out. */
function templateError(code: 'CR_TEMPLATE_SYNTAX' | 'CR_TEMPLATE_RENDER', name: string, e: unknown): CertrenderError {
  if (e instanceof CertrenderError) {
    return new CertrenderError(e.code, `${name}: ${e.message}`, { hint: e.hint, cause: e.cause, context: { ...e.context, template: name } });
  }
  const msg = e instanceof Error ? e.message : String(e);
  const { line, col } = position(msg);
  const prefix = `(${name})`;
  const text = (msg.startsWith(prefix) ? msg.slice(prefix.length) : msg).replace(/\[Line \d+, Column \d+\]\s*/, '').replace(/\s+/g, ' ').trim();
  const where = line !== undefined ? `${name}:${line}:${col}` : name;
  return new CertrenderError(code, `${where}: ${text}`, {
    hint: code === 'CR_TEMPLATE_SYNTAX' ? 'fix the template syntax (nunjucks)' : 'check the data the template reads',
    context: { template: name, line, column: col },
  });
}

export const nunjucksEngine: TemplateEngine = {
  name: 'nunjucks',
  compile(opts) {
    // The runtime of the render under way (renders are synchronous), for the filters.
    let active: TemplateRuntime | undefined;
    const env = makeEnv(opts, () => active!);
    let tmpl: nunjucks.Template;
    try {
      tmpl = new nunjucks.Template(opts.text, env, opts.name, true);
    } catch (e) {
      throw templateError('CR_TEMPLATE_SYNTAX', opts.name, e);
    }
    const compiled: CompiledTemplate = {
      render(runtime: TemplateRuntime) {
        active = runtime;
        try {
          return tmpl.render(runtime); // nunjucks copies the context's own keys itself
        } catch (e) {
          // nunjucks wraps errors thrown by our functions; keep our code, add the position.
          const inner = runtime[LAST_ERROR];
          runtime[LAST_ERROR] = undefined;
          if (inner instanceof CertrenderError) {
            const { line, col } = position((e as Error).message ?? '');
            throw templateError('CR_TEMPLATE_RENDER', line ? `${opts.name}:${line}:${col}` : opts.name, inner);
          }
          throw templateError('CR_TEMPLATE_RENDER', opts.name, e);
        } finally {
          active = undefined;
        }
      },
    };
    return compiled;
  },
};
