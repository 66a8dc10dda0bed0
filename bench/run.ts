/**
 * `npm run bench [-- --record]`: certrender's render cycle against a real local OpenBao,
 * beside `bao agent` (which embeds consul-template's engine) measured in the same run.
 *
 * Inventory: 30 files from 15 issuances (a cert and a key template per service, both
 * making the same pki/issue call), three ways: certrender's native config and nunjucks
 * templates; the same as a consul-template config and Go templates, rendered by
 * certrender (`certrender -config FILE -once`, Go engine, default state location under a
 * temp XDG_STATE_HOME); and that config plus Agent blocks for `bao agent`. Per tool: a first run (nothing on disk, everything
 * issued) and 5 second runs (certrender: nothing due; the agent has no state and issues
 * again). Each run is a real process:
 *  - wall: process.hrtime around the spawn, start to exit;
 *  - peak RSS and CPU: GNU time's %M (max resident set size of the child, KiB), %U + %S;
 *  - Vault requests: OpenBao's file audit log, entries added during the run, by operation;
 *  - max in-flight: an extra first run per tool on a fresh inventory, through a counting
 *    node:http proxy (timed runs go straight to OpenBao).
 * Then a certrender first and second run (fresh inventory) under `node --cpu-prof`, self
 * time summed by package, and the cost of importing each package seen there, alone.
 * Builds first (`npm run build`: dist/, schema/); otherwise writes only to temp dirs, except
 * `--record`, which replaces the section between the markers in bench/RESULTS.md (appending
 * it when absent). Exits 1 when a target fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { provisionBao } from '../scripts/provision.mjs';
import { startOpenBao, type OpenBao } from '../test/helpers/openbao.js';
import { setupPki } from '../test/helpers/openbao-pki.js';
import { makeTempDir } from '../test/helpers/tmp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CERTRENDER = join(ROOT, 'bin/certrender');
const DIST_URL = pathToFileURL(join(ROOT, 'dist/')).href;
const GNU_TIME = '/usr/bin/time';
const RESULTS = join(ROOT, 'bench/RESULTS.md');
const SERVICES = 15;
const REPEATS = 5;
const MAX_CONCURRENCY = 4; // certrender's default max_concurrency
const RUN_TIMEOUT_MS = 120_000;
const BEGIN = '<!-- bench/run.ts: begin -->';
const END = '<!-- bench/run.ts: end -->';

type Tool = 'certrender' | 'certrender (Go)' | 'bao agent';

interface Requests {
  issue: number;
  otherWrites: number;
  reads: number;
  /** Distinct issue request bodies (values are HMAC'd in the audit log, deterministically). */
  distinctIssues: number;
  otherPaths: string[];
}

interface Run {
  wallMs: number;
  rssKiB: number;
  cpuMs: number;
  /** certrender's own cycle duration (its cycle_done log line). */
  cycleMs?: number;
  requests: Requests;
}

interface Inventory {
  dir: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

const services = Array.from({ length: SERVICES }, (_, k) => k + 1);
const issueArgs = (i: number) => [`pki/issue/server`, `common_name=svc-${i}.example`, `ttl=72h`];

/** One tool's inventory (templates, config, token file) against `addr`, in a fresh temp dir. */
async function writeInventory(opts: { tool: Tool; addr: string; token: string; bao: string }): Promise<Inventory> {
  const dir = await makeTempDir({ certrender: 'bench-certrender', 'certrender (Go)': 'bench-certrender-go', 'bao agent': 'bench-agent' }[opts.tool]);
  mkdirSync(join(dir, 'tpl'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, opts.token + '\n', { mode: 0o600 });
  const q = (s: string) => JSON.stringify(s);
  const blocks: string[] = [];
  for (const i of services) {
    for (const [kind, field] of [['crt', 'certificate'], ['key', 'private_key']] as const) {
      const [path, ...params] = issueArgs(i);
      let source: string;
      if (opts.tool === 'certrender') {
        source = join(dir, `tpl/svc-${i}.${kind}.njk`);
        writeFileSync(source, `{{ secret(${[path, ...params].map(q).join(', ')}).Data.${field} }}\n`);
      } else {
        source = join(dir, `tpl/svc-${i}.${kind}.tmpl`);
        writeFileSync(source, `{{ with secret ${[path, ...params].map(q).join(' ')} }}{{ .Data.${field} }}{{ end }}\n`);
      }
      blocks.push(`template {\n  source      = ${q(source)}\n  destination = ${q(join(dir, `out/svc-${i}.${kind}`))}\n}\n`);
    }
  }
  const config = {
    certrender: `state_dir = ${q(join(dir, 'state'))}\n\nvault {\n  address    = ${q(opts.addr)}\n  token_file = ${q(tokenFile)}\n}\n\n`,
    'certrender (Go)': `vault {\n  address                = ${q(opts.addr)}\n  vault_agent_token_file = ${q(tokenFile)}\n}\n\n`,
    'bao agent': `vault {\n  address = ${q(opts.addr)}\n}\n\nauto_auth {\n  method "token_file" {\n    config = {\n      token_file_path = ${q(tokenFile)}\n    }\n  }\n}\n\nexit_after_auth = true\n\ntemplate_config {\n  exit_on_retry_failure = true\n}\n\n`,
  }[opts.tool];
  const file = join(dir, { certrender: 'certrender.hcl', 'certrender (Go)': 'consul-template.hcl', 'bao agent': 'agent.hcl' }[opts.tool]);
  writeFileSync(file, config + blocks.join('\n'));
  if (opts.tool === 'certrender') return { dir, command: process.execPath, args: [CERTRENDER, 'once', '--config', file] };
  if (opts.tool === 'certrender (Go)') {
    return { dir, command: process.execPath, args: [CERTRENDER, '-config', file, '-once'], env: { XDG_STATE_HOME: join(dir, 'xdg-state') } };
  }
  return { dir, command: opts.bao, args: ['agent', `-config=${file}`] };
}

/** The environment without BAO_* / VAULT_*: both tools take address and token from their config. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(BAO|VAULT)_/.test(k))), ...extra };
}

/** Runs a command to its exit; with timeFile, under GNU time writing "maxRSS-KiB user-s sys-s" there. */
function spawnTimed(opts: { command: string; args: string[]; cwd: string; env?: Record<string, string>; timeFile?: string }): Promise<{ wallMs: number; code: number | null; stderr: string }> {
  const [cmd, argv] = opts.timeFile ? [GNU_TIME, ['-f', '%M %U %S', '-o', opts.timeFile, opts.command, ...opts.args]] : [opts.command, opts.args];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, argv, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ wallMs: Number(process.hrtime.bigint() - start) / 1e6, code, stderr });
    });
  });
}

function classify(entries: any[]): Requests {
  const reqs = entries.filter((e) => e.type === 'request').map((e) => e.request);
  const isWrite = (r: any) => ['create', 'update', 'delete'].includes(r.operation);
  const issues = reqs.filter((r) => isWrite(r) && r.path.startsWith('pki/issue/'));
  const others = reqs.filter((r) => !issues.includes(r));
  return {
    issue: issues.length,
    otherWrites: others.filter(isWrite).length,
    reads: others.filter((r) => !isWrite(r)).length,
    distinctIssues: new Set(issues.map((r) => JSON.stringify(r.data))).size,
    otherPaths: [...new Set(others.map((r) => `${r.operation} ${r.path}`))],
  };
}

async function measure(bao: OpenBao, inv: Inventory, label: string): Promise<Run> {
  const timeFile = join(inv.dir, 'time.txt');
  const before = (await bao.auditEntries()).length;
  const r = await spawnTimed({ command: inv.command, args: inv.args, cwd: inv.dir, env: inv.env, timeFile });
  if (r.code !== 0) throw new Error(`${label} exited with ${r.code}:\n${r.stderr.slice(-3000)}`);
  const requests = classify((await bao.auditEntries()).slice(before));
  const [rssKiB, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const cycle = /"event":"cycle_done".*"duration_ms":(\d+)/.exec(r.stderr)?.[1];
  return { wallMs: r.wallMs, rssKiB, cpuMs: (user + sys) * 1000, cycleMs: cycle ? Number(cycle) : undefined, requests };
}

/** Every service's cert is for its name, signed by the CA, and its key matches: [certs ok, pairs matching]. */
function checkOutputs(dir: string, caPem: string): [number, number] {
  const ca = new X509Certificate(caPem);
  let certs = 0;
  let pairs = 0;
  for (const i of services) {
    const cert = new X509Certificate(readFileSync(join(dir, `out/svc-${i}.crt`)));
    if (cert.subject.includes(`CN=svc-${i}.example`) && cert.verify(ca.publicKey)) certs++;
    if (cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, `out/svc-${i}.key`))))) pairs++;
  }
  return [certs, pairs];
}

/** A pass-through proxy that records the most requests in flight at once. */
async function startCountingProxy(target: string): Promise<{ server: Server; addr: string; max: () => number }> {
  let inFlight = 0;
  let max = 0;
  const server = createServer((req, res) => {
    max = Math.max(max, ++inFlight);
    res.once('close', () => inFlight--);
    const up = request(target + req.url, { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      ur.pipe(res);
    });
    up.once('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, addr: `http://127.0.0.1:${(server.address() as { port: number }).port}`, max: () => max };
}

interface Profile {
  totalMs: number;
  /** Self time by package (node_modules/<pkg>), certrender dist/ dir, node internals or V8 bucket. */
  self: Map<string, number>;
  /** Inclusive time by certrender module (dist/<file>): samples with that module anywhere on the stack. */
  inclusive: Map<string, number>;
}

function readProfile(dir: string): Profile {
  const prof = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8'));
  const bucketOf = new Map<number, string>();
  const parentOf = new Map<number, number>();
  const moduleOf = new Map<number, string>();
  for (const n of prof.nodes) {
    const url: string = n.callFrame.url;
    for (const child of n.children ?? []) parentOf.set(child, n.id);
    if (url.startsWith(DIST_URL)) moduleOf.set(n.id, url.slice(DIST_URL.length));
    let b: string;
    if (!url) b = n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native code)';
    else if (url.includes('/node_modules/')) {
      const [scope, name] = url.slice(url.lastIndexOf('/node_modules/') + 14).split('/');
      b = scope.startsWith('@') ? `${scope}/${name}` : scope;
    } else if (url.startsWith('node:internal/modules/')) b = 'node: module loading';
    else if (url.startsWith('node:')) b = 'node: other internals';
    else if (url.startsWith(DIST_URL)) b = `certrender ${url.slice(DIST_URL.length).replace(/[^/]*$/, '') || './'}`;
    else b = url.replace(pathToFileURL(ROOT).href, '');
    bucketOf.set(n.id, b);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
  prof.samples.forEach((id: number, k: number) => {
    const ms = prof.timeDeltas[k] / 1000;
    add(self, bucketOf.get(id)!, ms);
    const modules = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) if (moduleOf.has(at)) modules.add(moduleOf.get(at)!);
    for (const m of modules) add(inclusive, m, ms);
  });
  return { totalMs: (prof.endTime - prof.startTime) / 1000, self, inclusive };
}

/** Milliseconds to import a package alone in a fresh node (median of 3); undefined if it cannot be imported from the root. */
function importCost(pkg: string): number | undefined {
  const code = `const t = performance.now(); await import(${JSON.stringify(pkg)}); console.log(performance.now() - t);`;
  const runs = Array.from({ length: 3 }, () => spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' }));
  return runs.every((r) => r.status === 0) ? median(runs.map((r) => Number(r.stdout))) : undefined;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number | undefined, d = 0) => (n === undefined ? '' : n.toFixed(d));
const mb = (kib: number) => kib / 1024;

/** A markdown table; the first `left` columns are left-aligned, the rest right-aligned. */
function table(head: string[], rows: (string | number)[][], left = 2): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((s, c) => (c < left ? s.padEnd(w[c]) : s.padStart(w[c]))).join(' | ')} |`;
  const rule = `|${w.map((n, c) => (c < left ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|')}|`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

interface ToolResult {
  first: Run;
  second: Run[];
  maxInFlight: number;
  /** [certs valid for their name and CA, keys matching their cert], out of SERVICES. */
  outputs: [number, number];
}

async function main(): Promise<number> {
  const record = process.argv.includes('--record');
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} (GNU time) is needed for peak RSS: apt-get install time`);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) throw new Error('npm run build failed');
  const baoBin = provisionBao();
  const baoVersion = spawnSync(baoBin, ['version'], { encoding: 'utf8' }).stdout.trim().replace(/, committed .*/, '');
  const loadAtStart = loadavg()[0];

  const bao = await startOpenBao({ auditLog: true });
  const { caPem } = await setupPki(bao);
  const inventory = (tool: Tool, addr = bao.addr) => writeInventory({ tool, addr, token: bao.token, bao: baoBin });

  const results = new Map<Tool, ToolResult>();
  const notes: string[] = [];
  for (const tool of ['certrender', 'certrender (Go)', 'bao agent'] as Tool[]) {
    const inv = await inventory(tool);
    const first = await measure(bao, inv, `${tool} first run`);
    const outputs = checkOutputs(inv.dir, caPem);
    const second: Run[] = [];
    for (let k = 0; k < REPEATS; k++) second.push(await measure(bao, inv, `${tool} second run`));
    const proxy = await startCountingProxy(bao.addr);
    await measure(bao, await inventory(tool, proxy.addr), `${tool} first run through the proxy`);
    proxy.server.close();
    results.set(tool, { first, second, maxInFlight: proxy.max(), outputs });
    for (const [run, paths] of [['first', first.requests.otherPaths], ['second', [...new Set(second.flatMap((r) => r.requests.otherPaths))]]] as const) {
      if (paths.length) notes.push(`${tool} ${run} run, requests besides pki/issue: ${paths.join(', ')}`);
    }
  }

  // certrender under the profiler, on a fresh inventory (not timed).
  const cr = await inventory('certrender');
  const profiles: Profile[] = [];
  for (const run of ['first', 'second']) {
    const dir = join(cr.dir, `prof-${run}`);
    const r = await spawnTimed({ command: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...cr.args], cwd: cr.dir });
    if (r.code !== 0) throw new Error(`profiled ${run} run exited with ${r.code}:\n${r.stderr.slice(-3000)}`);
    profiles.push(readProfile(dir));
  }
  await bao.stop();
  const deps = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies);
  const imports = new Map(deps.filter((d) => profiles[1].self.has(d)).map((d) => [d, importCost(d)]));
  const loadAtEnd = loadavg()[0];

  const c = results.get('certrender')!;
  const g = results.get('certrender (Go)')!;
  const a = results.get('bao agent')!;
  const maxOf = (runs: Run[], f: (r: Requests) => number) => Math.max(...runs.map((r) => f(r.requests)));
  const med = (runs: Run[], f: (r: Run) => number | undefined) => {
    const xs = runs.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const rows: (string | number)[][] = [];
  for (const [tool, r] of results) {
    const q = r.first.requests;
    rows.push([tool, 'first', fmt(r.first.wallMs), fmt(r.first.cpuMs), fmt(mb(r.first.rssKiB), 1), fmt(r.first.cycleMs), q.issue, q.otherWrites, q.reads, r.maxInFlight]);
    rows.push([
      tool,
      `second (median / min of ${REPEATS})`,
      `${fmt(med(r.second, (x) => x.wallMs))} / ${fmt(Math.min(...r.second.map((x) => x.wallMs)))}`,
      fmt(med(r.second, (x) => x.cpuMs)),
      fmt(mb(med(r.second, (x) => x.rssKiB)!), 1),
      fmt(med(r.second, (x) => x.cycleMs)),
      maxOf(r.second, (x) => x.issue),
      maxOf(r.second, (x) => x.otherWrites),
      maxOf(r.second, (x) => x.reads),
      '',
    ]);
  }
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
  const cSecondWall = med(c.second, (x) => x.wallMs)!;
  const cSecondWrites = maxOf(c.second, (x) => x.issue + x.otherWrites);
  const checks: [string, boolean][] = [
    [`certrender second run < 500 ms wall (median ${fmt(cSecondWall)} ms, min ${fmt(Math.min(...c.second.map((x) => x.wallMs)))} ms)`, cSecondWall < 500],
    [`certrender second run makes 0 Vault writes (most in one of ${REPEATS} runs: ${cSecondWrites})`, cSecondWrites === 0],
    [`certrender first run makes ${SERVICES} issue calls, each distinct request once (${c.first.requests.issue} calls, ${c.first.requests.distinctIssues} distinct)`, c.first.requests.issue === SERVICES && c.first.requests.distinctIssues === SERVICES],
    [`certrender max in-flight requests <= ${MAX_CONCURRENCY} (seen: ${c.maxInFlight})`, c.maxInFlight <= MAX_CONCURRENCY],
    [`certrender renders ${SERVICES} certs valid for their name and CA, keys matching (${c.outputs[0]} certs, ${c.outputs[1]} pairs)`, c.outputs.every((n) => n === SERVICES)],
    [`certrender (Go) first run makes ${SERVICES} issue calls, each distinct request once (${g.first.requests.issue} calls, ${g.first.requests.distinctIssues} distinct)`, g.first.requests.issue === SERVICES && g.first.requests.distinctIssues === SERVICES],
    [`certrender (Go) renders ${SERVICES} certs valid for their name and CA, keys matching (${g.outputs[0]} certs, ${g.outputs[1]} pairs)`, g.outputs.every((n) => n === SERVICES)],
    [`certrender (Go) second run issues nothing, the agent re-issues everything (most issue writes in one of ${REPEATS} second runs: certrender ${maxOf(g.second, (x) => x.issue)}, bao agent min ${Math.min(...a.second.map((x) => x.requests.issue))})`, maxOf(g.second, (x) => x.issue + x.otherWrites) === 0 && a.second.every((x) => x.requests.issue === SERVICES)],
    [`certrender (Go) first-run wall <= bao agent's (${fmt(g.first.wallMs)} ms vs ${fmt(a.first.wallMs)} ms)`, g.first.wallMs <= a.first.wallMs],
  ];

  const top = (pick: (p: Profile) => Map<string, number>, n: number) =>
    [...new Set(profiles.flatMap((p) => [...pick(p).entries()].sort((x, y) => y[1] - x[1]).slice(0, n).map(([b]) => b)))].sort(
      (x, y) => (pick(profiles[1]).get(y) ?? 0) - (pick(profiles[1]).get(x) ?? 0),
    );
  const share = (p: Profile, m: Map<string, number>, b: string) => (m.has(b) ? `${fmt(m.get(b)!)} (${fmt((100 * m.get(b)!) / p.totalMs)}%)` : '');
  const profileTable = (head: string, pick: (p: Profile) => Map<string, number>, n: number, extra?: (b: string) => string) =>
    table(
      [head, 'first run ms', 'second run ms', ...(extra ? ['import alone ms'] : [])],
      top(pick, n).map((b) => [b, ...profiles.map((p) => share(p, pick(p), b)), ...(extra ? [extra(b)] : [])]),
      1,
    );

  const out = [
    `${SERVICES * 2} files from ${SERVICES} issuances, OpenBao dev server (in memory) on 127.0.0.1. Wall: hrtime around the spawn; CPU (user+sys)`,
    `and peak RSS: GNU time; in-cycle: certrender's cycle_done duration_ms; requests: OpenBao's audit log. Timed runs go straight to`,
    `OpenBao; max in-flight comes from one more first run through a counting proxy. Load average (1 min): ${fmt(loadAtStart, 2)} at start, ${fmt(loadAtEnd, 2)} at end.`,
    '',
    table(['tool', 'run', 'wall ms', 'CPU ms', 'peak RSS MB', 'in-cycle ms', 'issue writes', 'other writes', 'reads', 'max in-flight'], rows),
    '',
    `certrender / bao agent: wall first ${ratio(c.first.wallMs, a.first.wallMs)}, second ${ratio(cSecondWall, med(a.second, (x) => x.wallMs)!)}; ` +
      `peak RSS first ${ratio(c.first.rssKiB, a.first.rssKiB)}, second ${ratio(med(c.second, (x) => x.rssKiB)!, med(a.second, (x) => x.rssKiB)!)}`,
    `certrender (Go) / bao agent, same consul-template config and Go templates: wall first ${ratio(g.first.wallMs, a.first.wallMs)}, second ${ratio(med(g.second, (x) => x.wallMs)!, med(a.second, (x) => x.wallMs)!)}; ` +
      `issue writes first ${g.first.requests.issue} vs ${a.first.requests.issue}, second (most of ${REPEATS}) ${maxOf(g.second, (x) => x.issue)} vs ${maxOf(a.second, (x) => x.issue)}`,
    `bao agent: ${a.first.requests.issue} issue calls (${a.first.requests.distinctIssues} distinct) for ${SERVICES * 2} templates on its first run; ` +
      `${a.outputs[0]}/${SERVICES} certs valid, ${a.outputs[1]}/${SERVICES} keys match their cert; no state, so every second run issues again (${maxOf(a.second, (x) => x.issue)}).`,
    ...notes,
    '',
    ...checks.map(([what, ok]) => `${ok ? 'PASS' : 'FAIL'} ${what}`),
    '',
    `certrender under node --cpu-prof (fresh inventory; a profile starts after node's bootstrap): first run ${fmt(profiles[0].totalMs)} ms, second run ${fmt(profiles[1].totalMs)} ms profiled.`,
    `Self time by package ("import alone": ms to import that dependency in a fresh node, median of 3):`,
    '',
    profileTable('self time in', (p) => p.self, 8, (b) => fmt(imports.get(b))),
    '',
    'Inclusive time under certrender modules (the module anywhere on the stack):',
    '',
    profileTable('certrender module', (p) => p.inclusive, 5),
  ].join('\n');
  console.log(out);

  if (record) {
    const section = [
      BEGIN,
      `## ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? '?'}), ${fmt(totalmem() / 2 ** 30, 1)} GiB memory, node ${process.version}, ${baoVersion}.`,
      '',
      'Command: `npm run bench -- --record`',
      '',
      '```',
      out,
      '```',
      END,
    ].join('\n');
    const prev = existsSync(RESULTS)
      ? readFileSync(RESULTS, 'utf8')
      : '# certrender benchmark results\n\nWritten by `npm run bench -- --record` (bench/run.ts); each recording replaces the section below.\n';
    const at = prev.indexOf(BEGIN);
    const end = prev.indexOf(END);
    const next = at >= 0 && end > at ? prev.slice(0, at) + section + prev.slice(end + END.length) : `${prev.trimEnd()}\n\n${section}\n`;
    writeFileSync(RESULTS, next);
    console.log(`\nrecorded in ${RESULTS}`);
  }
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

process.exitCode = await main();
