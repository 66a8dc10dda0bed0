/**
 * How JS values stand for Go values: integral numbers (within int64) are `int`, other numbers and
 * GoFloat are `float64`, arrays `[]interface {}`, plain objects
 * `map[string]interface {}`, null a nil interface, NO_VALUE Go's invalid reflect.Value
 * (a missing map key), STUB the runtime's not-fetched-yet placeholder.
 */
import { isStub } from '../runtime.js';

export class GoFloat {
  constructor(readonly f: number) {}
}

export const NO_VALUE: unique symbol = Symbol('no value');

export type Kind = 'invalid' | 'nil' | 'stub' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'func';

export function kindOf(v: unknown): Kind {
  if (v === NO_VALUE || v === undefined) return 'invalid';
  if (v === null) return 'nil';
  if (isStub(v)) return 'stub';
  switch (typeof v) {
    case 'boolean': return 'bool';
    case 'number': return Number.isInteger(v) && Math.abs(v as number) < 2 ** 63 ? 'int' : 'float';
    case 'bigint': return 'int';
    case 'string': return 'string';
    case 'function': return 'func';
  }
  if (v instanceof GoFloat) return 'float';
  return Array.isArray(v) ? 'slice' : 'map';
}

export function typeName(v: unknown): string {
  const k = kindOf(v);
  switch (k) {
    case 'invalid': case 'nil': return '<nil>';
    case 'float': return 'float64';
    case 'slice': return '[]interface {}';
    case 'map': case 'stub': return 'map[string]interface {}';
    case 'func': return 'func(...interface {}) (interface {}, error)';
    default: return k;
  }
}

export function num(v: unknown): number {
  return v instanceof GoFloat ? v.f : Number(v);
}

/** Map keys in Go's order (byte order of the UTF-8 strings). */
export function sortedKeys(o: object): string[] {
  return Object.keys(o).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
