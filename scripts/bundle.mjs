// Bundles dist/ (built by tsc) into dist/bundle/, the code bin/certrender runs (run after
// tsc by `npm run build`). Why (docs/decisions.md, "bin/certrender runs a bundle"): Node 20
// pays per module it loads, and zod alone is some eighty of them. The bundle is CommonJS,
// one file (main.cjs, with code-cache.cjs that loads it): node then never starts its ES
// module loader (~10 ms) nor resolves and links a chunk per lazily loaded part; lazy parts
// stay lazy (evaluated on first use; V8 only pre-parses them). zod is inlined (then it
// loads from the code cache below); node-vault, nunjucks and @peculiar/x509 are bundles of
// their own beside main.cjs (below); every other dependency stays external, loaded from
// node_modules as before.
// dist/bundle/ sits at the same depth as dist/cli/, so paths relative to the module URL
// still resolve; `import.meta.url` becomes the bundle file's URL (scripts/import-meta-url.js).
//
// bin/certrender loads main.cjs, and the Vault backend node-vault.cjs, through code-cache.cjs
// (src/boot/code-cache.ts): from V8's code cache that scripts/train-code-cache.mjs builds
// at the end of this script. A script compiled from a code cache has no dynamic import()
// in node 20, so the bundle has none: esbuild turns each `import()` into a lazy
// `require()`, which loads the ES-module-only dependencies (chokidar, node-cron) through
// node's require(esm) (node >= 20.19, package.json's engines).
//
// node-vault is the exception: it is bundled on its own, with axios and the rest of its
// dependency tree, into dist/bundle/node-vault.cjs, which the bundled Vault backend
// requires instead of 'node-vault'. Three modules axios requires at load and node-vault never
// uses (form-data, whose dependency tree is ~35 ms of loading, node:http2, and
// https-proxy-agent, used only through a proxy from HTTPS_PROXY and the like) load there
// only when first touched. Same code, same transport; ~40 ms less before the first request.
// And axios reads the global `FormData` when it loads, which makes node 20 load undici
// (~35 ms); the bundle reads it only when a request body could be one (lazyFormDataGlobal).
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const { dependencies } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const INLINED = ['zod'];
const LAZY = ['form-data', 'http2', 'node:http2', 'https-proxy-agent'];

/** `require(name)` inside the node-vault bundle returns a stand-in that requires the real module when first touched. */
const lazyModules = {
  name: 'lazy-modules',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${LAZY.join('|')})$`) }, (a) => (a.namespace === 'lazy' ? { path: a.path, external: true } : { path: a.path, namespace: 'lazy' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (a) => ({
      loader: 'js',
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(a.path)}));
module.exports = new Proxy(function lazy() {}, {
  get: (_, k) => Reflect.get(load(), k),
  has: (_, k) => Reflect.has(load(), k),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args, nt) => Reflect.construct(load(), args, nt === undefined ? load() : nt),
  getPrototypeOf: () => Reflect.getPrototypeOf(load()),
});
`,
    }));
  },
};

/**
 * `debug` (node-vault, follow-redirects, agent-base, https-proxy-agent each make a logger
 * with it when they load) costs ~5 ms to load and to probe the terminal's colours. Its
 * loggers print only for namespaces named in $DEBUG. So, inside the node-vault bundle,
 * `require('debug')` gives the real module when $DEBUG is set at start, and otherwise
 * loggers that do nothing, without loading it. Same output either way.
 */
const debugOnDemand = {
  name: 'debug-on-demand',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, (a) => (a.namespace === 'debug-on-demand' ? undefined : { path: 'debug', namespace: 'debug-on-demand' }));
    b.onLoad({ filter: /.*/, namespace: 'debug-on-demand' }, () => ({
      loader: 'js',
      resolveDir: root.pathname,
      contents: `if (process.env.DEBUG) {
  module.exports = require('debug');
} else {
  const off = Object.assign(function debug() {}, { enabled: false, namespace: '', log() {}, destroy() {} });
  off.extend = () => off;
  module.exports = Object.assign(() => off, { enable() {}, disable: () => '', enabled: () => false });
}
`,
    }));
  },
};

/**
 * axios (dist/node/axios.cjs) touches node 20's fetch globals when it loads, and the first
 * touch of any of them (FormData, fetch, Request, Response) loads all of undici: ~35 ms,
 * half of node-vault's load, for a transport node-vault never uses (it sends through
 * axios's http adapter). Two places, both changed without changing an answer:
 * - `isFormData` tests request bodies with `instanceof` a FormData read at load. A plain
 *   object (every node-vault body) is rejected on its prototype before any FormData could
 *   match, so the `instanceof` test moves after those rejections and reads the global there.
 * - A top-level `getFetch()` seeds the fetch adapter's cache. The adapter builds that same
 *   entry on first use (axios's adapter lookup calls getFetch), so the bundle drops the seed.
 */
const AXIOS_FORMDATA = [
  [
    "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;\n",
    '',
  ],
  [
    '  if (FormDataCtor && thing instanceof FormDataCtor) return true;\n',
    '',
  ],
  [
    '  if (!isFunction$1(thing.append)) return false;\n',
    "  if (!isFunction$1(thing.append)) return false;\n  if (typeof G.FormData !== 'undefined' && thing instanceof G.FormData) return true;\n",
  ],
  ['\ngetFetch();\n', '\n'],
];
const lazyFormDataGlobal = {
  name: 'lazy-formdata-global',
  setup(b) {
    b.onLoad({ filter: /[\\/]axios[\\/]dist[\\/]node[\\/]axios\.cjs$/ }, (a) => {
      let text = readFileSync(a.path, 'utf8');
      for (const [from, to] of AXIOS_FORMDATA) {
        if (text.split(from).length !== 2) throw new Error(`${a.path} no longer contains exactly one ${JSON.stringify(from)}: update scripts/bundle.mjs`);
        text = text.replace(from, to);
      }
      return { loader: 'js', contents: text };
    });
  },
};

/**
 * @peculiar/x509 (with reflect-metadata, which it needs loaded first) is bundled on its own
 * too, into dist/bundle/x509.cjs, which the bundled x509-lib requires through the code
 * cache: from node_modules it took ~150 ms to load (the local CA's first run, shared-key
 * CSRs); inside main.cjs it would have made every run's bundle ~1 MB larger (~40 ms more
 * to start, whether it builds a certificate or not).
 */
const X509_IMPORTS = "await import('reflect-metadata');\n        const x509 = await import('@peculiar/x509');";
const x509Beside = {
  name: 'x509-beside',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]issuer[\\/]x509-lib\.js$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      if (!text.includes(X509_IMPORTS)) throw new Error(`${a.path} no longer contains ${JSON.stringify(X509_IMPORTS)}: update scripts/bundle.mjs`);
      return { loader: 'js', contents: text.replace(X509_IMPORTS, "const x509 = require('./code-cache.cjs').requireCached(require('node:path').join(__dirname, 'x509.cjs'));") };
    });
  },
};

/**
 * nunjucks, the engine of native (.njk) templates only, is a bundle of its own too
 * (dist/bundle/nunjucks.cjs, through the code cache): a consul-template config's Go
 * templates never load it, and inside main.cjs its source and trained code (a fifth of
 * each) were read, hashed and deserialized at every start.
 */
const nunjucksBeside = {
  name: 'nunjucks-beside',
  setup(b) {
    b.onResolve({ filter: /^nunjucks$/ }, () => ({ path: 'nunjucks', namespace: 'nunjucks-beside' }));
    b.onLoad({ filter: /.*/, namespace: 'nunjucks-beside' }, () => ({
      loader: 'js',
      contents: "module.exports = require('./code-cache.cjs').requireCached(require('node:path').join(__dirname, 'nunjucks.cjs'));\n",
    }));
  },
};

/** The bundled Vault backend requires the node-vault bundle beside it, through the code cache. */
const NODE_VAULT_REQUIRE = "require('node-vault')";
const nodeVaultBeside = {
  name: 'node-vault-beside',
  setup(b) {
    b.onResolve({ filter: /^\.\/code-cache\.cjs$/ }, (a) => ({ path: a.path, external: true }));
    b.onLoad({ filter: /[\\/]dist[\\/]vault[\\/]vault-backend\.js$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      if (!text.includes(NODE_VAULT_REQUIRE)) throw new Error(`${a.path} no longer contains ${NODE_VAULT_REQUIRE}: update scripts/bundle.mjs`);
      return { loader: 'js', contents: text.replace(NODE_VAULT_REQUIRE, "require('./code-cache.cjs').requireCached(require('node:path').join(__dirname, 'node-vault.cjs'))") };
    });
  },
};

// Start clean (earlier layouts left other files here).
rmSync(new URL('dist/bundle', root), { recursive: true, force: true });
/** What every bundle here is: one CommonJS file for node 20. */
const CJS = { absWorkingDir: root.pathname, bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' };
await build({
  ...CJS,
  entryPoints: { main: 'dist/cli/main.js', 'code-cache': 'dist/boot/code-cache.js' },
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  supported: { 'dynamic-import': false },
  external: Object.keys(dependencies).filter((d) => !INLINED.includes(d)),
  define: { 'import.meta.url': 'importMetaUrl' },
  inject: ['scripts/import-meta-url.js'],
  plugins: [nodeVaultBeside, x509Beside, nunjucksBeside],
});
await build({
  ...CJS,
  entryPoints: ['node_modules/node-vault/src/index.js'],
  outfile: 'dist/bundle/node-vault.cjs',
  plugins: [lazyModules, lazyFormDataGlobal, debugOnDemand],
});
await build({
  ...CJS,
  entryPoints: ['node_modules/nunjucks/index.js'],
  outfile: 'dist/bundle/nunjucks.cjs',
  // Required by nunjucks only to watch template directories, which certrender never asks it to.
  external: ['chokidar', 'fsevents'],
});
await build({
  ...CJS,
  stdin: { contents: "require('reflect-metadata');\nmodule.exports = require('@peculiar/x509');\n", resolveDir: root.pathname, loader: 'js' },
  outfile: 'dist/bundle/x509.cjs',
});
console.log('wrote dist/bundle/');

// V8 code caches for the four bundles, from training runs of the built binary.
await import('./train-code-cache.mjs');
