/**
 * `npm run bench [-- --record]`: certrender's render cycle against a real local OpenBao,
 * beside `bao agent` (which embeds consul-template's engine) measured in the same run.
 *
 * Inventory: 30 files from 15 issuances (a cert and a key template per service, both
 * making the same pki/issue call), three ways: certrender's native config and nunjucks
 * templates; the same as a consul-template config and Go templates, rendered by
 * certrender (`certrender -config FILE -once`, Go engine, default state location under a
 * temp XDG_STATE_HOME); and that config plus Agent blocks for `bao agent`. Per tool: REPEATS first runs
 * (each on a fresh inventory: nothing on disk, everything issued; in rounds, the tools'
 * order rotated each round) and REPEATS second runs on the first one's inventory (certrender:
 * nothing due; the agent has no state and issues again). Each run is a real process:
 *  - wall: process.hrtime around the spawn, start to exit;
 *  - peak RSS and CPU: GNU time's %M (max resident set size of the child, KiB), %U + %S;
 *  - Vault requests: OpenBao's file audit log, entries added during the run, by operation;
 *  - max in-flight: an extra first run per tool on a fresh inventory, through a counting
 *    node:http proxy (timed runs go straight to OpenBao);
 *  - environment: every run goes without NODE_EXTRA_CA_CERTS and NODE_OPTIONS (this
 *    workplace sets the first; node 20 loads it at every start): `node -e 0` is timed with
 *    and without them and the difference printed.
 * Then a certrender first and second run (fresh inventory) under `node --cpu-prof` (over
 * dist/cli/ rather than the bundle bin/certrender runs, so modules keep their names), self
 * time summed by package, and the cost of importing each package seen there, alone.
 * Builds first (`npm run build`: dist/, schema/); otherwise writes only to temp dirs, except
 * `--record`, which replaces the section between the markers in bench/RESULTS.md (appending
 * it when absent). Exits 1 when a target fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
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
/** The same CLI over dist/cli/ (unbundled), so the profile can name certrender's modules. */
const UNBUNDLED_CLI = join(ROOT, 'bench/unbundled-cli.mjs');
const DIST_URL = pathToFileURL(join(ROOT, 'dist/')).href;
const GNU_TIME = '/usr/bin/time';
const RESULTS = join(ROOT, 'bench/RESULTS.md');
const SERVICES = 15;
// First and second runs per tool: one first run is one sample of OpenBao's RSA key generation,
// whose time varies by hundreds of ms (15 keys on two cores; single runs range ~700-1500 ms).
// A median of 9 moved the first-run ratio by ±0.1 between recordings of the same code, one
// of 15 by ±0.15 still (0.92x-1.21x over sessions 4 and 5), against tools whose own time
// (lead + tail) differs by ~30 ms: 25 rounds, ~2 minutes more.
const REPEATS = 25;
const MAX_CONCURRENCY = 4; // certrender's default max_concurrency
const RUN_TIMEOUT_MS = 120_000;
const BEGIN = '<!-- bench/run.ts: begin -->';
const END = '<!-- bench/run.ts: end -->';
const IDLE_BEGIN = '<!-- bench/run.ts idle: begin -->';
const IDLE_END = '<!-- bench/run.ts idle: end -->';

type Tool = 'certrender' | 'certrender (Go)' | 'bao agent';

interface Requests {
  issue: number;
  otherWrites: number;
  reads: number;
  /** Distinct issue request bodies (values are HMAC'd in the audit log, deterministically). */
  distinctIssues: number;
  otherPaths: string[];
}

/** Where a first run's wall time goes, from the spawn's clock and OpenBao's audit log (ms). */
interface Phases {
  /** Spawn to the first pki/issue request reaching OpenBao: start-up, config, templates, client. */
  lead: number;
  /** First pki/issue request to the last pki/issue response: OpenBao issuing. */
  issuing: number;
  /** Last pki/issue response to exit: rendering, validation, writing. */
  tail: number;
}

interface Run {
  wallMs: number;
  phases?: Phases;
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

/**
 * One tool's inventory (templates, config, token file) against `addr`, in a fresh temp dir.
 * `daemon`: certrender `run` / an agent without exit_after_auth, reads refreshed hourly.
 */
async function writeInventory(opts: { tool: Tool; addr: string; token: string; bao: string; daemon?: boolean }): Promise<Inventory> {
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
  const hourly = opts.daemon ? `static_secret_render_interval = "1h"\n` : '';
  const config = {
    certrender: `state_dir = ${q(join(dir, 'state'))}\n${hourly}\nvault {\n  address    = ${q(opts.addr)}\n  token_file = ${q(tokenFile)}\n}\n\n`,
    'certrender (Go)': `vault {\n  address                = ${q(opts.addr)}\n  vault_agent_token_file = ${q(tokenFile)}\n}\n\n`,
    'bao agent': `vault {\n  address = ${q(opts.addr)}\n}\n\nauto_auth {\n  method "token_file" {\n    config = {\n      token_file_path = ${q(tokenFile)}\n    }\n  }\n}\n\n${opts.daemon ? '' : 'exit_after_auth = true\n\n'}template_config {\n  exit_on_retry_failure = true\n  ${hourly}}\n\n`,
  }[opts.tool];
  const file = join(dir, { certrender: 'certrender.hcl', 'certrender (Go)': 'consul-template.hcl', 'bao agent': 'agent.hcl' }[opts.tool]);
  writeFileSync(file, config + blocks.join('\n'));
  if (opts.tool === 'certrender') return { dir, command: process.execPath, args: [CERTRENDER, opts.daemon ? 'run' : 'once', '--config', file] };
  if (opts.tool === 'certrender (Go)') {
    return { dir, command: process.execPath, args: [CERTRENDER, '-config', file, '-once'], env: { XDG_STATE_HOME: join(dir, 'xdg-state') } };
  }
  return { dir, command: opts.bao, args: ['agent', `-config=${file}`] };
}

/** The environment without BAO_* / VAULT_*: both tools take address and token from their config. */
/**
 * Variables of the machine the benchmark runs on that change what node does before any of
 * certrender's code runs (this workplace sets NODE_EXTRA_CA_CERTS to the whole system bundle,
 * which node 20 loads at every start). Timed runs go without them, for every tool (the Go
 * agent ignores them anyway); nodeStartCost() reports what they cost.
 */
const AMBIENT_NODE_VARS = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'];

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ([k]: [string, unknown]) => !/^(BAO|VAULT)_/.test(k) && !AMBIENT_NODE_VARS.includes(k);
  return { ...Object.fromEntries(Object.entries(process.env).filter(keep)), ...extra };
}

/** `node -e 0`, median of REPEATS, with this machine's environment and with childEnv(); undefined when no ambient variable is set. */
function nodeStartCost(): { vars: string[]; withMs: number; withoutMs: number } | undefined {
  const vars = AMBIENT_NODE_VARS.filter((v) => process.env[v]);
  if (!vars.length) return undefined;
  const time = (env: NodeJS.ProcessEnv) =>
    median(
      Array.from({ length: REPEATS }, () => {
        const t = process.hrtime.bigint();
        spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
        return Number(process.hrtime.bigint() - t) / 1e6;
      }),
    );
  return { vars, withMs: time(process.env), withoutMs: time(childEnv()) };
}

/** Runs a command to its exit; with timeFile, under GNU time writing "maxRSS-KiB user-s sys-s" there. */
function spawnTimed(opts: { command: string; args: string[]; cwd: string; env?: Record<string, string>; timeFile?: string }): Promise<{ wallMs: number; startedAt: number; code: number | null; stderr: string }> {
  const [cmd, argv] = opts.timeFile ? [GNU_TIME, ['-f', '%M %U %S', '-o', opts.timeFile, opts.command, ...opts.args]] : [opts.command, opts.args];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const startedAt = Date.now();
    const child = spawn(cmd, argv, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ wallMs: Number(process.hrtime.bigint() - start) / 1e6, startedAt, code, stderr });
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
  const entries = (await bao.auditEntries()).slice(before);
  const requests = classify(entries);
  const issueTimes = (type: string) => entries.filter((e) => e.type === type && e.request?.path.startsWith('pki/issue/')).map((e) => Date.parse(e.time));
  const [sent, answered] = [issueTimes('request'), issueTimes('response')];
  const phases = sent.length && answered.length
    ? { lead: Math.min(...sent) - r.startedAt, issuing: Math.max(...answered) - Math.min(...sent), tail: r.startedAt + r.wallMs - Math.max(...answered) }
    : undefined;
  const [rssKiB, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const done = r.stderr.split('\n').find((l) => l.includes('"event":"cycle_done"'));
  const cycle = done && /"duration_ms":(\d+)/.exec(done)?.[1];
  return { wallMs: r.wallMs, phases, rssKiB, cpuMs: (user + sys) * 1000, cycleMs: cycle ? Number(cycle) : undefined, requests };
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
  /** The first of the first runs: its outputs are checked, its inventory runs the second runs. */
  first: Run;
  /** Every first run (REPEATS fresh inventories). */
  firsts: Run[];
  second: Run[];
  maxInFlight: number;
  /** [certs valid for their name and CA, keys matching their cert], out of SERVICES. */
  outputs: [number, number];
}

interface Section {
  out: string;
  checks: [string, boolean][];
}

/** One run and several second runs per tool, a profile of certrender's. */
async function cycleSection(baoBin: string): Promise<Section> {
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} (GNU time) is needed for peak RSS: apt-get install time`);
  const loadAtStart = loadavg()[0];

  const bao = await startOpenBao({ auditLog: true });
  const { caPem } = await setupPki(bao);
  const inventory = (tool: Tool, addr = bao.addr) => writeInventory({ tool, addr, token: bao.token, bao: baoBin });

  const results = new Map<Tool, ToolResult>();
  const notes: string[] = [];
  // First runs: REPEATS fresh inventories per tool, in rounds, the order rotated each round
  // (one first run is one sample of OpenBao's RSA key generation, whose time varies a lot).
  const tools = ['certrender', 'certrender (Go)', 'bao agent'] as Tool[];
  const firsts = new Map<Tool, { inv: Inventory; run: Run }[]>(tools.map((t) => [t, []]));
  for (let round = 0; round < REPEATS; round++) {
    for (const tool of [...tools.slice(round % tools.length), ...tools.slice(0, round % tools.length)]) {
      const inv = await inventory(tool);
      firsts.get(tool)!.push({ inv, run: await measure(bao, inv, `${tool} first run`) });
    }
  }
  for (const tool of tools) {
    const [{ inv, run: first }] = firsts.get(tool)!;
    const outputs = checkOutputs(inv.dir, caPem);
    const second: Run[] = [];
    for (let k = 0; k < REPEATS; k++) second.push(await measure(bao, inv, `${tool} second run`));
    const proxy = await startCountingProxy(bao.addr);
    await measure(bao, await inventory(tool, proxy.addr), `${tool} first run through the proxy`);
    proxy.server.close();
    results.set(tool, { first, firsts: firsts.get(tool)!.map((f) => f.run), second, maxInFlight: proxy.max(), outputs });
    for (const [run, paths] of [['first', first.requests.otherPaths], ['second', [...new Set(second.flatMap((r) => r.requests.otherPaths))]]] as const) {
      if (paths.length) notes.push(`${tool} ${run} run, requests besides pki/issue: ${paths.join(', ')}`);
    }
  }

  // certrender under the profiler, on a fresh inventory (not timed).
  const cr = await inventory('certrender');
  const profiles: Profile[] = [];
  for (const run of ['first', 'second']) {
    const dir = join(cr.dir, `prof-${run}`);
    const args = cr.args.map((a) => (a === CERTRENDER ? UNBUNDLED_CLI : a));
    const r = await spawnTimed({ command: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...args], cwd: cr.dir });
    if (r.code !== 0) throw new Error(`profiled ${run} run exited with ${r.code}:\n${r.stderr.slice(-3000)}`);
    profiles.push(readProfile(dir));
  }
  await bao.stop();
  const deps = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies);
  const imports = new Map(deps.filter((d) => profiles[1].self.has(d)).map((d) => [d, importCost(d)]));
  const loadAtEnd = loadavg()[0];
  const start = nodeStartCost();

  const c = results.get('certrender')!;
  const g = results.get('certrender (Go)')!;
  const a = results.get('bao agent')!;
  const maxOf = (runs: Run[], f: (r: Requests) => number) => Math.max(...runs.map((r) => f(r.requests)));
  const med = (runs: Run[], f: (r: Run) => number | undefined) => {
    const xs = runs.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const row = (tool: string, label: string, runs: Run[], inFlight: number | string) => [
    tool,
    `${label} (median / min of ${REPEATS})`,
    `${fmt(med(runs, (x) => x.wallMs))} / ${fmt(Math.min(...runs.map((x) => x.wallMs)))}`,
    fmt(med(runs, (x) => x.cpuMs)),
    fmt(mb(med(runs, (x) => x.rssKiB)!), 1),
    fmt(med(runs, (x) => x.cycleMs)),
    maxOf(runs, (x) => x.issue),
    maxOf(runs, (x) => x.otherWrites),
    maxOf(runs, (x) => x.reads),
    inFlight,
  ];
  const rows = [...results].flatMap(([tool, r]) => [row(tool, 'first', r.firsts, r.maxInFlight), row(tool, 'second', r.second, '')]);
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
  const cSecondWall = med(c.second, (x) => x.wallMs)!;
  const firstWall = (r: ToolResult) => med(r.firsts, (x) => x.wallMs)!;
  const firstRss = (r: ToolResult) => med(r.firsts, (x) => x.rssKiB)!;
  const issuesOnce = (r: ToolResult) => r.firsts.every((x) => x.requests.issue === SERVICES && x.requests.distinctIssues === SERVICES);
  const issueCounts = (r: ToolResult) => r.firsts.map((x) => `${x.requests.issue}/${x.requests.distinctIssues}`).join(', ');
  const cSecondWrites = maxOf(c.second, (x) => x.issue + x.otherWrites);
  const checks: [string, boolean][] = [
    [`certrender second run < 500 ms wall (median ${fmt(cSecondWall)} ms, min ${fmt(Math.min(...c.second.map((x) => x.wallMs)))} ms)`, cSecondWall < 500],
    [`certrender second run makes 0 Vault writes (most in one of ${REPEATS} runs: ${cSecondWrites})`, cSecondWrites === 0],
    [`certrender first runs make ${SERVICES} issue calls each, each distinct request once (calls/distinct: ${issueCounts(c)})`, issuesOnce(c)],
    [`certrender max in-flight requests <= ${MAX_CONCURRENCY} (seen: ${c.maxInFlight})`, c.maxInFlight <= MAX_CONCURRENCY],
    [`certrender renders ${SERVICES} certs valid for their name and CA, keys matching (${c.outputs[0]} certs, ${c.outputs[1]} pairs)`, c.outputs.every((n) => n === SERVICES)],
    [`certrender (Go) first runs make ${SERVICES} issue calls each, each distinct request once (calls/distinct: ${issueCounts(g)})`, issuesOnce(g)],
    [`certrender (Go) renders ${SERVICES} certs valid for their name and CA, keys matching (${g.outputs[0]} certs, ${g.outputs[1]} pairs)`, g.outputs.every((n) => n === SERVICES)],
    [`certrender (Go) second run issues nothing, the agent re-issues everything (most issue writes in one of ${REPEATS} second runs: certrender ${maxOf(g.second, (x) => x.issue)}, bao agent min ${Math.min(...a.second.map((x) => x.requests.issue))})`, maxOf(g.second, (x) => x.issue + x.otherWrites) === 0 && a.second.every((x) => x.requests.issue === SERVICES)],
    [
      `certrender (Go) first-run wall <= bao agent's (median of ${REPEATS}: ${fmt(firstWall(g))} ms vs ${fmt(firstWall(a))} ms; ` +
        `ranges ${fmt(Math.min(...g.firsts.map((x) => x.wallMs)))}-${fmt(Math.max(...g.firsts.map((x) => x.wallMs)))} vs ${fmt(Math.min(...a.firsts.map((x) => x.wallMs)))}-${fmt(Math.max(...a.firsts.map((x) => x.wallMs)))})`,
      firstWall(g) <= firstWall(a),
    ],
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
    ...(start
      ? [
          `This machine's environment sets ${start.vars.join(' and ')}: \`node -e 0\` takes ${fmt(start.withMs)} ms with it, ${fmt(start.withoutMs)} ms without (median of ${REPEATS};`,
          `node 20 loads NODE_EXTRA_CA_CERTS at every start). Every tool runs without it here: a fleet host trusts its Vault CA through`,
          `VAULT_CACERT, not through node's environment. With it, each certrender row would be ~${fmt(start.withMs - start.withoutMs)} ms slower.`,
        ]
      : []),
    '',
    table(['tool', 'run', 'wall ms', 'CPU ms', 'peak RSS MB', 'in-cycle ms', 'issue writes', 'other writes', 'reads', 'max in-flight'], rows),
    '',
    `Where a first run's wall time goes (median of ${REPEATS}; spawn clock against OpenBao's audit log): lead = spawn to the first pki/issue`,
    `request at OpenBao; issuing = first pki/issue request to last response; tail = last response to exit; lead + tail = the tool's own`,
    `time, without OpenBao's key generation (median of the per-run sums).`,
    '',
    table(
      ['tool', 'lead ms', 'issuing ms', 'tail ms', 'lead + tail ms'],
      [...results].map(([tool, r]) => [
        tool,
        ...(['lead', 'issuing', 'tail'] as const).map((k) => fmt(med(r.firsts, (x) => x.phases?.[k]))),
        fmt(med(r.firsts, (x) => (x.phases ? x.phases.lead + x.phases.tail : undefined))),
      ]),
      1,
    ),
    '',
    `Round by round (the tools back to back on the same OpenBao, order rotated), first-run wall ms, certrender (Go) / bao agent:`,
    `${g.firsts.map((x, i) => `${fmt(x.wallMs)}/${fmt(a.firsts[i].wallMs)}`).join(', ')}; certrender (Go) took less time in ${g.firsts.filter((x, i) => x.wallMs <= a.firsts[i].wallMs).length} of ${REPEATS} rounds.`,
    '',
    `certrender / bao agent (medians): wall first ${ratio(firstWall(c), firstWall(a))}, second ${ratio(cSecondWall, med(a.second, (x) => x.wallMs)!)}; ` +
      `peak RSS first ${ratio(firstRss(c), firstRss(a))}, second ${ratio(med(c.second, (x) => x.rssKiB)!, med(a.second, (x) => x.rssKiB)!)}`,
    `certrender (Go) / bao agent, same consul-template config and Go templates (medians): wall first ${ratio(firstWall(g), firstWall(a))}, second ${ratio(med(g.second, (x) => x.wallMs)!, med(a.second, (x) => x.wallMs)!)}; ` +
      `issue writes first ${g.first.requests.issue} vs ${a.first.requests.issue}, second (most of ${REPEATS}) ${maxOf(g.second, (x) => x.issue)} vs ${maxOf(a.second, (x) => x.issue)}`,
    `bao agent: ${a.first.requests.issue} issue calls (${a.first.requests.distinctIssues} distinct) for ${SERVICES * 2} templates on its first run; ` +
      `${a.outputs[0]}/${SERVICES} certs valid, ${a.outputs[1]}/${SERVICES} keys match their cert; no state, so every second run issues again (${maxOf(a.second, (x) => x.issue)}).`,
    ...notes,
    '',
    ...checks.map(([what, ok]) => `${ok ? 'PASS' : 'FAIL'} ${what}`),
    '',
    `certrender under node --cpu-prof (fresh inventory; unbundled, dist/cli/, to name modules; a profile starts after node's bootstrap): first run ${fmt(profiles[0].totalMs)} ms, second run ${fmt(profiles[1].totalMs)} ms profiled.`,
    `Self time by package ("import alone": ms to import that dependency in a fresh node, median of 3):`,
    '',
    profileTable('self time in', (p) => p.self, 8, (b) => fmt(imports.get(b))),
    '',
    'Inclusive time under certrender modules (the module anywhere on the stack):',
    '',
    profileTable('certrender module', (p) => p.inclusive, 5),
  ].join('\n');
  return { out, checks };
}

/** Length of the idle window, sampled once a second. */
const IDLE_WINDOW_S = 30;
/** The window opens once the process used no CPU tick for this long, after its first cycle (certrender) or 30th file (agent). */
const IDLE_SETTLE_MS = 2_000;
/**
 * And not before this long after that point: V8's memory reducer runs one full GC some
 * seconds after start-up's allocations stop (seen at ~10 s); that is start-up, not idling.
 */
const IDLE_STARTUP_GC_MS = 20_000;
/** certrender's default check_schedule (every 10 minutes, UTC): the window is kept clear of its ticks. */
const CHECK_EVERY_MS = 10 * 60_000;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

interface ProcSample {
  rssKiB: number;
  /** utime + stime of the whole process, clock ticks. */
  cpuTicks: number;
  /** Run time summed over the process's threads (/proc/<pid>/task/<tid>/schedstat), ns. */
  runNs: number;
  /** Voluntary context switches summed over threads: how often it went to sleep, i.e. woke up. */
  wakeups: number;
  threads: number;
}

function sampleProc(pid: number): ProcSample {
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state)
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // fields 14 utime, 15 stime
  let runNs = 0;
  let wakeups = 0;
  const tids = readdirSync(`/proc/${pid}/task`);
  for (const tid of tids) {
    try {
      runNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1]);
    } catch {
      /* the thread exited between readdir and read */
    }
  }
  return { rssKiB, cpuTicks, runNs, wakeups, threads: tids.length };
}

interface IdleRun {
  command: string;
  rssMeanKiB: number;
  rssMaxKiB: number;
  cpuMs: number;
  runMs: number;
  wakeups: number;
  threads: number;
  requests: Requests;
  /** certrender cycles started during the window (cycle_started lines). */
  cycles?: number;
  /** [certs valid for their name and CA, keys matching their cert] when the window opened. */
  outputs: [number, number];
  exit: string;
  exitCode: number | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts one daemon, waits until it has rendered everything, samples it over the window, stops it (SIGTERM). */
async function idleRun(opts: { bao: OpenBao; inv: Inventory; tool: Tool; caPem: string; exe: string }): Promise<IdleRun> {
  const { inv, tool } = opts;
  // Spawned directly (no wrapper): child.pid is the node process running bin/certrender, or bao itself.
  const child = spawn(inv.command, inv.args, { cwd: inv.dir, env: childEnv(inv.env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, signal) => resolve([code, signal])));
  const count = (event: string) => stderr.split(`"event":"${event}"`).length - 1;
  const outDir = join(inv.dir, 'out');
  const rendered = () => existsSync(outDir) && readdirSync(outDir).filter((f) => /^svc-\d+\.(crt|key)$/.test(f)).length === SERVICES * 2;
  const waitFor = async (what: string, ok: () => boolean) => {
    for (const deadline = Date.now() + RUN_TIMEOUT_MS; !ok(); await sleep(100)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${tool} exited while waiting for ${what}:\n${stderr.slice(-3000)}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${tool}: no ${what} after ${RUN_TIMEOUT_MS} ms:\n${stderr.slice(-3000)}`);
      }
    }
  };
  try {
    if (tool === 'certrender') {
      await waitFor('cycle_finished', () => count('cycle_finished') >= 1);
      // Keep the window clear of a check_schedule tick: if one is near, let it pass and its cycle finish.
      const toTick = CHECK_EVERY_MS - (Date.now() % CHECK_EVERY_MS);
      if (toTick < IDLE_STARTUP_GC_MS + IDLE_SETTLE_MS + IDLE_WINDOW_S * 1000 + 2_000) {
        await sleep(toTick);
        await waitFor('the check_schedule cycle', () => count('cycle_finished') >= 2);
      }
    } else await waitFor(`${SERVICES * 2} files`, rendered);
    // Start-up goes on past cycle_finished (node-cron, chokidar's watches, the memory reducer's GC):
    // open the window once the process is quiet.
    await sleep(IDLE_STARTUP_GC_MS);
    for (let ticks = -1, now = sampleProc(child.pid!).cpuTicks; ticks !== now; now = sampleProc(child.pid!).cpuTicks) {
      ticks = now;
      await sleep(IDLE_SETTLE_MS);
    }
    const outputs = checkOutputs(inv.dir, opts.caPem);

    const command = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const exe = realpathSync(`/proc/${child.pid}/exe`);
    if (exe !== realpathSync(opts.exe) || (tool === 'certrender' && command[1] !== CERTRENDER)) {
      throw new Error(`${tool}: pid ${child.pid} is ${exe} ${command.join(' ')}, not the process to measure`);
    }
    const cyclesBefore = count('cycle_started');
    const auditBefore = (await opts.bao.auditEntries()).length;
    const start = Date.now();
    const first = sampleProc(child.pid!);
    const rss = [first.rssKiB];
    let last = first;
    for (let k = 1; k <= IDLE_WINDOW_S; k++) {
      await sleep(start + k * 1000 - Date.now());
      last = sampleProc(child.pid!);
      rss.push(last.rssKiB);
    }
    const seconds = (Date.now() - start) / 1000; // ~IDLE_WINDOW_S; the last sample is taken here
    const requests = classify((await opts.bao.auditEntries()).slice(auditBefore));
    const cycles = tool === 'certrender' ? count('cycle_started') - cyclesBefore : undefined;

    child.kill('SIGTERM');
    const [code, signal] = await Promise.race([exited, sleep(30_000).then(() => [null, null] as [null, null])]);
    if (code === null && signal === null) child.kill('SIGKILL');
    return {
      command: [exe.replace(ROOT, ''), ...command.slice(1).map((a) => a.replace(ROOT, '').replace(inv.dir + '/', ''))].join(' '),
      rssMeanKiB: rss.reduce((a, b) => a + b, 0) / rss.length,
      rssMaxKiB: Math.max(...rss),
      cpuMs: (((last.cpuTicks - first.cpuTicks) / CLK_TCK) * 1000 * IDLE_WINDOW_S) / seconds,
      runMs: ((last.runNs - first.runNs) / 1e6) * (IDLE_WINDOW_S / seconds),
      wakeups: last.wakeups - first.wakeups,
      threads: last.threads,
      requests,
      cycles,
      outputs,
      exit: code !== null ? `exit ${code}` : signal ? `signal ${signal}` : 'still running after 30 s (SIGKILL)',
      exitCode: code,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** certrender `run` and `bao agent`, one after the other, idle after rendering the same 30 files. */
async function idleSection(baoBin: string): Promise<Section> {
  const bao = await startOpenBao({ auditLog: true });
  const { caPem } = await setupPki(bao);
  const runs = new Map<Tool, IdleRun>();
  try {
    for (const [tool, exe] of [['certrender', process.execPath], ['bao agent', baoBin]] as [Tool, string][]) {
      const inv = await writeInventory({ tool, addr: bao.addr, token: bao.token, bao: baoBin, daemon: true });
      runs.set(tool, await idleRun({ bao, inv, tool, caPem, exe }));
    }
  } finally {
    await bao.stop();
  }
  const c = runs.get('certrender')!;
  const a = runs.get('bao agent')!;
  const pct = (r: IdleRun) => (100 * r.cpuMs) / (IDLE_WINDOW_S * 1000);
  const vault = (r: Requests) => r.issue + r.otherWrites + r.reads;
  const ratio = (x: number, y: number) => (y > 0 ? `${(x / y).toFixed(2)}x` : x > 0 ? 'inf' : 'n/a (both 0)');
  const rows = [...runs].map(([tool, r]) => [
    tool,
    r.command,
    fmt(mb(r.rssMeanKiB), 1),
    fmt(mb(r.rssMaxKiB), 1),
    fmt(r.cpuMs),
    fmt(pct(r), 3),
    fmt(r.runMs, 1),
    r.wakeups,
    r.threads,
    vault(r.requests),
    r.exit,
  ]);
  const checks: [string, boolean][] = [
    [`certrender renders ${SERVICES} certs valid for their name and CA, keys matching, before idling (${c.outputs[0]} certs, ${c.outputs[1]} pairs)`, c.outputs.every((n) => n === SERVICES)],
    [`certrender idle RSS <= bao agent's (mean ${fmt(mb(c.rssMeanKiB), 1)} MB vs ${fmt(mb(a.rssMeanKiB), 1)} MB)`, c.rssMeanKiB <= a.rssMeanKiB],
    [`certrender idle CPU < 0.1% of one core (${fmt(pct(c), 3)}%: ${fmt(c.cpuMs)} ms in ${IDLE_WINDOW_S} s)`, pct(c) < 0.1],
    [`certrender makes 0 Vault requests while idle (${vault(c.requests)}; cycles started in the window: ${c.cycles})`, vault(c.requests) === 0],
    [`certrender exits 0 on SIGTERM (${c.exit})`, c.exitCode === 0],
  ];
  const agentPaths = a.requests.otherPaths.length || a.requests.issue ? ` (${[a.requests.issue ? `${a.requests.issue}x pki/issue` : '', ...a.requests.otherPaths].filter(Boolean).join(', ')})` : '';
  const out = [
    `Idle footprint: ${SERVICES * 2} files from ${SERVICES} issuances (certificates ttl 72h), each tool as a daemon after it has rendered them, one tool at a time`,
    `against a fresh OpenBao dev server: \`certrender run\` (native config, static_secret_render_interval = "1h", default check_schedule, the window kept`,
    `clear of its ticks) and \`bao agent\` (no exit_after_auth, template_config static_secret_render_interval = "1h"). The window opens ${IDLE_STARTUP_GC_MS / 1000} s, then no CPU`,
    `for ${IDLE_SETTLE_MS / 1000} s, after certrender's first cycle_finished / the agent's ${SERVICES * 2}th file, and lasts ${IDLE_WINDOW_S} s (IDLE_WINDOW_S). Measured on the pid spawned (node running`,
    `bin/certrender; bao): RSS = VmRSS every second; CPU = utime+stime (/proc/<pid>/stat, ${1000 / CLK_TCK} ms ticks) over the window, % of one core;`,
    `run ms = schedstat run time summed over threads (ns resolution); wakeups = voluntary context switches summed over threads; Vault requests: audit log.`,
    '',
    table(['tool', 'process', 'RSS mean MB', 'RSS max MB', 'CPU ms', 'CPU % core', 'run ms', 'wakeups', 'threads', 'Vault requests', 'on SIGTERM'], rows),
    '',
    `certrender / bao agent: RSS mean ${ratio(c.rssMeanKiB, a.rssMeanKiB)}, max ${ratio(c.rssMaxKiB, a.rssMaxKiB)}; CPU ${ratio(c.cpuMs, a.cpuMs)} (run time ${ratio(c.runMs, a.runMs)}); wakeups ${ratio(c.wakeups, a.wakeups)}.`,
    `bao agent: ${vault(a.requests)} Vault requests in the window${agentPaths}; ${a.outputs[0]}/${SERVICES} certs valid, ${a.outputs[1]}/${SERVICES} keys match their cert.`,
    '',
    ...checks.map(([what, ok]) => `${ok ? 'PASS' : 'FAIL'} ${what}`),
  ].join('\n');
  return { out, checks };
}

const SECTIONS = { cycle: { title: 'Render cycle', run: cycleSection, markers: [BEGIN, END] }, idle: { title: 'Idle daemon', run: idleSection, markers: [IDLE_BEGIN, IDLE_END] } };

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const record = args.includes('--record');
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  if (only !== undefined && !(only in SECTIONS)) throw new Error(`--only takes one of: ${Object.keys(SECTIONS).join(', ')}`);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) throw new Error('npm run build failed');
  const baoBin = provisionBao();
  const baoVersion = spawnSync(baoBin, ['version'], { encoding: 'utf8' }).stdout.trim().replace(/, committed .*/, '');

  let ok = true;
  for (const [name, s] of Object.entries(SECTIONS).filter(([name]) => !only || name === only)) {
    const { out, checks } = await s.run(baoBin);
    ok &&= checks.every(([, pass]) => pass);
    console.log(`\n== ${s.title} ==\n\n${out}`);
    if (!record) continue;
    const [begin, end] = s.markers;
    const section = [
      begin,
      `## ${s.title}, ${new Date().toISOString().slice(0, 10)}`,
      '',
      `Machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? '?'}), ${fmt(totalmem() / 2 ** 30, 1)} GiB memory, node ${process.version}, ${baoVersion}.`,
      '',
      `Command: \`npm run bench -- --record\`${name === 'idle' ? ' (this section alone: `npm run bench -- --only idle --record`)' : ''}`,
      '',
      '```',
      out,
      '```',
      end,
    ].join('\n');
    const prev = existsSync(RESULTS)
      ? readFileSync(RESULTS, 'utf8')
      : '# certrender benchmark results\n\nWritten by `npm run bench -- --record` (bench/run.ts); each recording replaces the sections below.\n';
    const at = prev.indexOf(begin);
    const stop = prev.indexOf(end);
    writeFileSync(RESULTS, at >= 0 && stop > at ? prev.slice(0, at) + section + prev.slice(stop + end.length) : `${prev.trimEnd()}\n\n${section}\n`);
    console.log(`\nrecorded in ${RESULTS}`);
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
