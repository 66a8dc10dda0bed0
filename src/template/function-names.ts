/**
 * The names of the functions templates may call (implemented in runtime.ts and
 * library.ts), known at compile time so that a template calling anything else fails at
 * load with file:line:col, and the consul-template functions certrender refuses on purpose.
 * `executeTemplate` belongs to the Go engine and is not listed here.
 */
export const TEMPLATE_FUNCTIONS: readonly string[] = [
  // Vault and the local system
  'secret', 'secrets', 'pkiCert', 'sharedKey', 'sharedKeyCert', 'file', 'env', 'mustEnv', 'envOrDefault', 'timestamp', 'sockaddr', 'scratch', 'writeToFile',
  // pure (library.ts)
  'base64Encode', 'base64Decode', 'base64URLEncode', 'base64URLDecode', 'toJSON', 'toJSONPretty', 'parseJSON',
  'trimSpace', 'trim', 'trimPrefix', 'trimSuffix', 'split', 'join', 'replaceAll',
  'contains', 'in', 'containsAll', 'containsAny', 'containsNone', 'containsNotAll',
  'toLower', 'toUpper', 'toTitle', 'indent', 'parseInt', 'parseUint', 'parseFloat', 'parseBool',
  'sha256Hex', 'md5sum', 'hmacSHA256Hex', 'regexMatch', 'regexReplaceAll',
  'add', 'subtract', 'multiply', 'divide', 'modulo', 'minimum', 'maximum', 'loop',
];

/**
 * Why a `function_denylist` name disables nothing, or undefined when it disables a
 * function: every function certrender serves and `executeTemplate`, as consul-template
 * replaces only the functions of its own table (Go's builtins stay), and the refused
 * functions, which no template can call anyway.
 */
export function denylistGap(name: string): string | undefined {
  if (TEMPLATE_FUNCTIONS.includes(name) || name === 'executeTemplate' || Object.prototype.hasOwnProperty.call(REFUSED_FUNCTIONS, name)) return undefined;
  return `"${name}" is not a certrender function, so nothing is disabled for it: check the spelling (Go builtins such as printf cannot be disabled, as in consul-template; other names cannot be called anyway)`;
}

const CONSUL = 'reads Consul, which certrender does not talk to';
const NOMAD = 'reads Nomad, which certrender does not talk to';

/** consul-template functions certrender does not serve: name -> why. */
export const REFUSED_FUNCTIONS: Readonly<Record<string, string>> = {
  key: CONSUL, keyExists: CONSUL, keyOrDefault: CONSUL, ls: CONSUL, safeLs: CONSUL, tree: CONSUL, safeTree: CONSUL,
  node: CONSUL, nodes: CONSUL, service: CONSUL, services: CONSUL, connect: CONSUL, caRoots: CONSUL, caLeaf: CONSUL,
  datacenters: CONSUL, partitions: CONSUL, peerings: CONSUL, exportedServices: CONSUL, importedServices: CONSUL,
  nomadServices: NOMAD, nomadService: NOMAD, nomadVariables: NOMAD, nomadVariableItems: NOMAD, nomadVariableList: NOMAD,
  nomadVariableExists: NOMAD, nomadVar: NOMAD, nomadVarList: NOMAD, nomadVarListSafe: NOMAD, nomadVarExists: NOMAD,
  explode: 'works on Consul key/value pairs (ls, tree)',
  byKey: 'works on Consul key/value pairs (ls, tree)',
  byTag: 'works on Consul services',
  byPort: 'works on Consul services',
  byMeta: 'works on Consul services',
  plugin: 'runs arbitrary binaries; use a hook instead',
  parseYAML: 'YAML is not supported by certrender; use parseJSON',
  toYAML: 'YAML is not supported by certrender; use toJSON or toJSONPretty',
  toTOML: 'TOML is not supported by certrender; use toJSON or toJSONPretty',
};
