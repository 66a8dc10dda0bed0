/**
 * Go's encoding/json Marshal / MarshalIndent for the plain values templates handle:
 * map keys sorted (by UTF-8 bytes), HTML characters and U+2028/U+2029 escaped as \u003c
 * etc., non-finite numbers refused. Pure.
 */
const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function goJSONString(s: string): string {
  // Lone surrogates are invalid UTF-8 to Go: it writes U+FFFD.
  const clean = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return `"${clean.replace(/["\\\u0000-\u001f<>&\u2028\u2029]/g, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * `indent` '' is Marshal, '  ' is MarshalIndent(v, "", "  "). `leaf` may replace a value
 * it recognises (the runtime's STUB) by its JSON text.
 */
export function goJSON(
  v: unknown,
  opts: { indent?: string; fail: (why: string) => Error; leaf?: (v: unknown) => string | undefined },
): string {
  const { indent = '', fail, leaf } = opts;
  const enc = (x: unknown, depth: number): string => {
    const replaced = leaf?.(x);
    if (replaced !== undefined) return replaced;
    if (x === null || x === undefined) return 'null';
    if (typeof x === 'string') return goJSONString(x);
    if (typeof x === 'boolean') return String(x);
    if (typeof x === 'bigint') return x.toString();
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw fail(`unsupported value: ${x}`);
      return Object.is(x, -0) ? '-0' : JSON.stringify(x);
    }
    if (typeof x !== 'object') throw fail(`unsupported type: ${typeof x}`);
    const nl = indent ? `\n${indent.repeat(depth + 1)}` : '';
    const close = indent ? `\n${indent.repeat(depth)}` : '';
    if (Array.isArray(x)) {
      if (x.length === 0) return '[]';
      return `[${x.map((e) => nl + enc(e, depth + 1)).join(',')}${close}]`;
    }
    const keys = Object.keys(x).sort(byUtf8);
    if (keys.length === 0) return '{}';
    const sep = indent ? ': ' : ':';
    return `{${keys.map((k) => nl + goJSONString(k) + sep + enc((x as Record<string, unknown>)[k], depth + 1)).join(',')}${close}}`;
  };
  return enc(v, 0);
}
