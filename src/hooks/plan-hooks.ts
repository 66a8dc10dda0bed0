/**
 * Which hooks a cycle runs, in which order. Pure.
 *
 * Named hooks run in ascending `order`. consul-template `command`s become implicit
 * hooks after every named one, in config order, deduplicated by argv (identical
 * commands run once). A hook runs once per cycle however many groups notify it, and
 * only when a group that notifies it was written.
 */
import { resolve } from 'node:path';
import type { Config, FailurePolicy } from '../config/schema.js';
import type { GateSpec } from './gates.js';

export interface HookToRun {
  name: string;
  order: number;
  argv: string[];
  shell: boolean;
  timeoutMs: number;
  graceMs: number;
  onFailure: FailurePolicy;
  gate?: GateSpec;
  /** The destinations written this cycle whose templates notify this hook. */
  changed: string[];
  implicit: boolean;
}

const IMPLICIT_ORDER_BASE = 1_000_000;
const DEFAULT_COMMAND_TIMEOUT = 30_000;

/**
 * consul-template's command forms: a string is split on "," into a list; a one-element
 * list whose string has a space runs through `sh -c`; otherwise the list is the argv.
 */
export function commandArgv(cmd: string | string[]): { argv: string[]; shell: boolean } {
  const list = typeof cmd === 'string' ? cmd.split(',').map((s) => s.trim()).filter(Boolean) : cmd;
  return list.length === 1 && /\s/.test(list[0]) ? { argv: [list[0]], shell: true } : { argv: list, shell: false };
}

function absGate(gate: GateSpec, baseDir: string): GateSpec {
  const abs = (p?: string) => (p === undefined ? undefined : resolve(baseDir, p));
  return { ...gate, ca_cert: abs(gate.ca_cert), client_cert: abs(gate.client_cert), client_key: abs(gate.client_key), expect_cert: abs(gate.expect_cert) };
}

export function planHooks(opts: {
  config: Config;
  baseDir: string;
  /** Template index -> destinations of it written this cycle (template file and writeToFile targets). */
  written: Map<number, string[]>;
}): HookToRun[] {
  const { config } = opts;
  const hooks = new Map<string, HookToRun>();
  const add = (key: string, make: () => Omit<HookToRun, 'changed'>, changed: string[]) => {
    const h = hooks.get(key) ?? { ...make(), changed: [] };
    for (const d of changed) if (!h.changed.includes(d)) h.changed.push(d);
    hooks.set(key, h);
  };
  const indexes = [...opts.written.keys()].sort((a, b) => a - b);
  for (const i of indexes) {
    const t = config.template[i];
    const changed = opts.written.get(i)!;
    for (const name of t.notify) {
      const h = config.hook[name];
      add(`hook:${name}`, () => {
        const cmd = h.shell ? { argv: typeof h.command === 'string' ? [h.command] : h.command, shell: true } : typeof h.command === 'string' ? commandArgv(h.command) : { argv: h.command, shell: false };
        const gate = h.gate && { ...h.gate, command: h.gate.command === undefined ? undefined : commandArgv(h.gate.command).argv, shell: h.gate.shell || (h.gate.command !== undefined && commandArgv(h.gate.command).shell) };
        return {
          name,
          order: h.order,
          ...cmd,
          timeoutMs: h.timeout,
          graceMs: h.grace,
          onFailure: h.on_failure ?? config.hook_failure,
          gate: gate && absGate(gate as GateSpec, opts.baseDir),
          implicit: false,
        };
      }, changed);
    }
    if (t.command !== undefined) {
      const cmd = commandArgv(t.command);
      if (cmd.argv.length === 0) continue;
      add(`cmd:${JSON.stringify(cmd)}`, () => ({
        name: `command: ${cmd.argv.join(' ')}`,
        order: IMPLICIT_ORDER_BASE + i,
        ...cmd,
        timeoutMs: t.command_timeout ?? DEFAULT_COMMAND_TIMEOUT,
        graceMs: 5000,
        onFailure: config.hook_failure,
        implicit: true,
      }), changed);
    }
  }
  return [...hooks.values()].sort((a, b) => a.order - b.order);
}
