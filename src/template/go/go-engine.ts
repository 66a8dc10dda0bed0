/**
 * The Go text/template engine: consul-template templates render unchanged and
 * byte-identical to Go. Loaded lazily (engine.ts) only when a Go template exists.
 */
import type { CompileOptions, CompiledTemplate, TemplateEngine } from '../engine.js';
import { REFUSED_FUNCTIONS, TEMPLATE_FUNCTIONS } from '../function-names.js';
import type { TemplateRuntime } from '../runtime.js';
import { BUILTIN_NAMES, execute } from './exec.js';
import { parse } from './parser.js';
import { NO_VALUE } from './value.js';

function checkFunction(name: string): string | undefined {
  if (BUILTIN_NAMES.includes(name) || TEMPLATE_FUNCTIONS.includes(name)) return undefined;
  if (Object.prototype.hasOwnProperty.call(REFUSED_FUNCTIONS, name)) return `function ${JSON.stringify(name)} is refused by certrender: ${REFUSED_FUNCTIONS[name]}`;
  return `function ${JSON.stringify(name)} not defined`;
}

export interface GoCompiledTemplate extends CompiledTemplate {
  /** Render with an explicit dot (consul-template renders with nil data: `render`). */
  execute(runtime: TemplateRuntime | Record<string, unknown>, dot: unknown): string;
}

export const goEngine = {
  name: 'go',
  compile(opts: CompileOptions): GoCompiledTemplate {
    const tmpl = parse({ text: opts.text, name: opts.name, left: opts.leftDelimiter || '{{', right: opts.rightDelimiter || '}}', checkFunction });
    const execute_ = (runtime: TemplateRuntime | Record<string, unknown>, dot: unknown) =>
      execute({ tmpl, name: opts.name, funcs: runtime as Record<string, unknown>, errorOnMissingKey: opts.errorOnMissingKey, dot });
    return { render: (runtime) => execute_(runtime, NO_VALUE), execute: execute_ };
  },
} satisfies TemplateEngine;
