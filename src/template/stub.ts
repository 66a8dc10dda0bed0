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
