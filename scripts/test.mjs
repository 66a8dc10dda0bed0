// `npm test [-- <pattern>... | <uvu flag>...]`: provisions OpenBao, runs every *.test.ts
// (unit tests in src/, integration tests in test/) in one uvu process, and ends with the
// line CI reads: `N passed, N failed[, N skipped]`. Exits non-zero on any failure, on a
// crash and when no test ran. CERTRENDER_SKIP_PROVISION=1 skips the provisioning step,
// CERTRENDER_SKIP_BUILD=1 the build.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

if (process.env.CERTRENDER_SKIP_PROVISION !== '1') {
  const provision = spawnSync(process.execPath, ['scripts/provision.mjs'], { cwd: root, stdio: 'inherit' });
  if (provision.status !== 0) console.error('test: provisioning OpenBao failed; tests that need it will fail');
}

// The quickstart test runs the built binary (bin/certrender -> dist/): build first so it is never stale.
if (process.env.CERTRENDER_SKIP_BUILD !== '1') {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('test: the build (npm run build) failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('-'));
const narrow = args.filter((a) => !a.startsWith('-'));
// Paths are matched relative to the root; extra arguments narrow to files whose path matches one.
const pattern = narrow.length ? `^(?=.*(?:${narrow.join('|')})).*\\.test\\.ts$` : '\\.test\\.ts$';
// Anchored so that test files merely containing "dist" (distinguished-name.test.ts) still run.
const ignores = ['-i', '^dist$', '-i', 'node_modules', '-i', '^\\.cache$'];
const color = process.stdout.isTTY ? [] : ['--no-color'];

const uvu = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', '.', pattern, ...ignores, ...color, ...flags], {
  cwd: root,
  stdio: ['inherit', 'pipe', 'inherit'],
});
let output = '';
uvu.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  output += chunk;
});
const [code, signal] = await new Promise((resolve) => uvu.on('close', (...result) => resolve(result)));

// eslint-disable-next-line no-control-regex
const text = output.replace(/\x1b\[[0-9;]*m/g, '');
const count = (label) => Number(text.match(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'm'))?.[1]);
let total = count('Total');
let passed = count('Passed');
const skipped = count('Skipped') || 0;
let failed = total - passed;
if (Number.isNaN(total) || Number.isNaN(passed)) {
  // No summary: uvu crashed. Keep what the finished suites reported ("(passed / total)"), plus the crash.
  const suites = [...text.matchAll(/\((\d+) \/ (\d+)\)\s*$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
  passed = suites.reduce((sum, [p]) => sum + p, 0);
  failed = suites.reduce((sum, [p, t]) => sum + t - p, 0) + 1;
  total = passed + failed;
  console.error(`test: uvu ended without a summary (${signal ?? `exit ${code}`}); counted as a failure`);
} else if (total === 0) {
  console.error(`test: no test ran (pattern ${pattern})`);
}

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || code !== 0 || total === 0 ? 1 : 0;
