// Bundles dist/ (built by tsc) into dist/bundle/, the code bin/certrender runs (run after
// tsc by `npm run build`). Why: Node 20's ESM loader pays per module, and zod alone is
// some eighty of them; one file per lazily loaded part (esbuild's code splitting keeps
// every dynamic import lazy) starts ~80 ms sooner (docs/decisions.md). zod is inlined;
// every other dependency stays external, loaded from node_modules as before (several are
// CommonJS and some are only loaded on the paths that need them). dist/bundle/ sits at
// the same depth as dist/cli/, so paths relative to import.meta.url still resolve.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const { dependencies } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const INLINED = ['zod'];

// Chunk names are content hashes: clear the old ones.
rmSync(new URL('dist/bundle', root), { recursive: true, force: true });
await build({
  absWorkingDir: root.pathname,
  entryPoints: ['dist/cli/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(dependencies).filter((d) => !INLINED.includes(d)),
  logLevel: 'warning',
});
console.log('wrote dist/bundle/');
