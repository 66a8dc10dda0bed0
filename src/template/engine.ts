/**
 * The seam between the render cycle and template languages. An engine compiles a
 * template once (syntax errors surface at load, with file:line:col) and renders it
 * synchronously against a runtime. nunjucks is the native engine; Go templates plug in
 * here as a second engine with the same runtime, so both read the same data the same way.
 */
import { CertrenderError } from '../errors.js';
import type { TemplateRuntime } from './runtime.js';

export type EngineName = 'nunjucks' | 'go';

export interface CompileOptions {
  /** The template text. */
  text: string;
  /** Name used in errors: the source path, or "template.N (contents)". */
  name: string;
  leftDelimiter?: string;
  rightDelimiter?: string;
  errorOnMissingKey: boolean;
}

export interface CompiledTemplate {
  render(runtime: TemplateRuntime): string;
}

export interface TemplateEngine {
  name: EngineName;
  compile(opts: CompileOptions): CompiledTemplate;
}

/** Which engine a template uses: explicit `engine`, else nunjucks for *.njk and inline contents, else go. */
export function engineFor(t: { engine?: EngineName; source?: string }): EngineName {
  if (t.engine) return t.engine;
  if (t.source === undefined || /\.njk$/i.test(t.source)) return 'nunjucks';
  return 'go';
}

export async function loadEngine(name: EngineName): Promise<TemplateEngine> {
  if (name === 'nunjucks') return (await import('./nunjucks-engine.js')).nunjucksEngine;
  if (name === 'go') return (await import('./go/go-engine.js')).goEngine;
  throw new CertrenderError('CR_TEMPLATE_SYNTAX', `unknown template engine "${name}"`, {
    hint: 'set engine = "go" or "nunjucks" in the template block',
  });
}
