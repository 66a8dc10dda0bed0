// Bundles dist/ (built by tsc) into dist/bundle/, the code bin/certrender runs (run after
// tsc by `npm run build`). Why: Node 20's ESM loader pays per module, and zod alone is
// some eighty of them; one file per lazily loaded part (esbuild's code splitting keeps
// every dynamic import lazy) starts ~80 ms sooner (docs/decisions.md). zod is inlined;
// every other dependency stays external, loaded from node_modules as before (several are
// CommonJS and some are only loaded on the paths that need them). dist/bundle/ sits at
// the same depth as dist/cli/, so paths relative to import.meta.url still resolve.
//
// node-vault is the exception: it is bundled on its own, with axios and the rest of its
// dependency tree, into dist/bundle/node-vault.cjs, which the bundled Vault backend
// requires instead of 'node-vault'. Two modules axios requires at load and node-vault never
// uses (form-data, whose dependency tree is ~35 ms of loading, and node:http2) load there
// only when first touched. Same code, same transport; ~40 ms less before the first request.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const { dependencies } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const INLINED = ['zod'];
const LAZY = ['form-data', 'http2', 'node:http2'];

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

/** The bundled Vault backend requires the node-vault bundle beside it. */
const NODE_VAULT_REQUIRE = "require('node-vault')";
const nodeVaultBeside = {
  name: 'node-vault-beside',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]vault[\\/]vault-backend\.js$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      if (!text.includes(NODE_VAULT_REQUIRE)) throw new Error(`${a.path} no longer contains ${NODE_VAULT_REQUIRE}: update scripts/bundle.mjs`);
      return { loader: 'js', contents: text.replace(NODE_VAULT_REQUIRE, "require('./node-vault.cjs')") };
    });
  },
};

// Chunk names are content hashes: clear the old ones.
rmSync(new URL('dist/bundle', root), { recursive: true, force: true });
await build({
  absWorkingDir: root.pathname,
  // The Vault thread's worker is an entry of its own, beside main.js (vault-thread.ts finds it there).
  entryPoints: { main: 'dist/cli/main.js', 'vault-thread-worker': 'dist/vault/vault-thread-worker.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(dependencies).filter((d) => !INLINED.includes(d)),
  plugins: [nodeVaultBeside],
  logLevel: 'warning',
});
await build({
  absWorkingDir: root.pathname,
  entryPoints: ['node_modules/node-vault/src/index.js'],
  outfile: 'dist/bundle/node-vault.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [lazyModules],
  logLevel: 'warning',
});
console.log('wrote dist/bundle/');
