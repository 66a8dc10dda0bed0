/**
 * consul-template's scratch: a per-render key/value store with Set/SetX (no overwrite),
 * maps filled with MapSet/MapSetX, and MapValues (values sorted by key). Set methods
 * print "". Pure.
 */
import { fnError } from './library.js';

export function createScratch() {
  const values = new Map<string, unknown>();
  const mapSet = (name: string, k: unknown, mk: unknown, v: unknown, overwrite: boolean) => {
    const key = String(k);
    if (!values.has(key)) values.set(key, Object.create(null));
    const m = values.get(key);
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw fnError(name, `"${key}" is not a map`);
    const typed = m as Record<string, unknown>;
    if (overwrite || !(String(mk) in typed)) typed[String(mk)] = v;
    return '';
  };
  return {
    Key: (k: unknown) => values.has(String(k)),
    Get: (k: unknown) => values.get(String(k)),
    Set: (k: unknown, v: unknown) => {
      values.set(String(k), v);
      return '';
    },
    SetX: (k: unknown, v: unknown) => {
      if (!values.has(String(k))) values.set(String(k), v);
      return '';
    },
    MapSet: (k: unknown, mk: unknown, v: unknown) => mapSet('MapSet', k, mk, v, true),
    MapSetX: (k: unknown, mk: unknown, v: unknown) => mapSet('MapSetX', k, mk, v, false),
    MapValues: (k: unknown) => {
      const m = values.get(String(k));
      if (!m || typeof m !== 'object' || Array.isArray(m)) return [];
      return Object.keys(m).sort().map((mk) => (m as Record<string, unknown>)[mk]);
    },
  };
}
