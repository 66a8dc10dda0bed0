/**
 * The names of the functions templates may call (implemented in runtime.ts and its
 * library), known at compile time so that a template calling anything else fails at
 * load with file:line:col, and the functions certrender refuses on purpose.
 */
export const TEMPLATE_FUNCTIONS: readonly string[] = ['secret', 'pkiCert', 'file', 'env', 'base64Encode', 'base64Decode', 'toJSON', 'trimSpace'];

/** consul-template functions certrender does not serve: name -> why. */
export const REFUSED_FUNCTIONS: Readonly<Record<string, string>> = {
  plugin: 'runs arbitrary binaries; use a hook instead',
};
