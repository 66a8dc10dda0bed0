/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week) for the
 * window maths: is `now` inside a maintenance window, when does the next one start.
 * Pure: `now` is a parameter. node-cron fires the wall-clock ticks; this decides.
 * Fields: `*`, `N`, `A-B`, lists `A,B`, steps `*\/N` and `A-B/N`; day-of-week 0-7 (0 and
 * 7 are Sunday); when both day fields are restricted, either may match (Vixie cron).
 * Times are UTC.
 */
export interface Cron {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domRestricted: boolean;
  dowRestricted: boolean;
  source: string;
}

const RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function field(text: string, [lo, hi]: [number, number], name: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`cron ${name} field "${part}" is not N, A-B, * or a step`);
    const step = m[4] ? Number(m[4]) : 1;
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] ? hi : from;
    if (from < lo || to > hi || from > to || step < 1) throw new Error(`cron ${name} field "${part}" is out of range ${lo}-${hi}`);
    for (let v = from; v <= to; v += step) out.add(name === 'day-of-week' && v === 7 ? 0 : v);
  }
  return out;
}

export function parseCron(source: string): Cron {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`cron "${source}" must have 5 fields (minute hour day-of-month month day-of-week)`);
  const names = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
  const [minute, hour, dom, month, dow] = parts.map((p, i) => field(p, RANGES[i], names[i]));
  return { minute, hour, dom, month, dow, domRestricted: parts[2] !== '*', dowRestricted: parts[4] !== '*', source };
}

export function cronMatches(c: Cron, t: Date): boolean {
  if (!c.minute.has(t.getUTCMinutes()) || !c.hour.has(t.getUTCHours()) || !c.month.has(t.getUTCMonth() + 1)) return false;
  const dom = c.dom.has(t.getUTCDate());
  const dow = c.dow.has(t.getUTCDay());
  if (c.domRestricted && c.dowRestricted) return dom || dow;
  return dom && dow;
}

const MINUTE = 60_000;

/** The first minute strictly after `after` that matches; undefined if none within `horizonDays`. */
export function nextCron(c: Cron, after: Date, horizonDays = 366): Date | undefined {
  let t = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
  const end = after.getTime() + horizonDays * 86_400_000;
  while (t <= end) {
    const d = new Date(t);
    if (!c.month.has(d.getUTCMonth() + 1)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      continue;
    }
    if (!cronMatches({ ...c, minute: new Set(Array.from({ length: 60 }, (_, i) => i)), hour: new Set(Array.from({ length: 24 }, (_, i) => i)) }, d)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
      continue;
    }
    if (!c.hour.has(d.getUTCHours())) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
      continue;
    }
    if (c.minute.has(d.getUTCMinutes())) return d;
    t += MINUTE;
  }
  return undefined;
}

export interface Window {
  cron: Cron;
  durationMs: number;
}

/** Inside a window: a window start at or before `now` whose duration has not elapsed. */
export function inWindow(w: Window, now: Date): boolean {
  // A window that started within the last `duration` is open. Search from now - duration.
  const start = nextCron(w.cron, new Date(now.getTime() - w.durationMs - MINUTE), Math.ceil(w.durationMs / 86_400_000) + 1);
  return start !== undefined && start.getTime() <= now.getTime() && now.getTime() < start.getTime() + w.durationMs;
}

/**
 * When a disruptive renewal due at `now` may run: `now` if inside any window, else the
 * next window start — unless the certificate would expire (minus `margin`) before it,
 * in which case now.
 */
export function renewalSlot(opts: { windows: Window[]; now: Date; notAfter: Date; marginMs: number }): Date {
  if (opts.windows.length === 0 || opts.windows.some((w) => inWindow(w, opts.now))) return opts.now;
  const starts = opts.windows.map((w) => nextCron(w.cron, opts.now)).filter((d): d is Date => d !== undefined);
  const next = starts.sort((a, b) => a.getTime() - b.getTime())[0];
  if (!next || next.getTime() >= opts.notAfter.getTime() - opts.marginMs) return opts.now;
  return next;
}
