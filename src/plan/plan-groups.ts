/**
 * Desired outputs vs what is on disk -> groups to write. Pure: no fs, no clock.
 *
 * A group is everything one template writes plus every template fed by the same
 * issuance (a cert file, its key file and its chain file): they are applied together
 * or not at all. Within a group only the files whose bytes, mode or owner changed are
 * written; an unchanged file is never touched.
 */
import { shortHash } from '../template/vault-call.js';

export interface DesiredOutput {
  index: number;
  /** For messages: the source path or "template.N (contents)". */
  name: string;
  destination: string;
  /** The rendered text, or undefined when the template could not be rendered. */
  content?: string;
  /** Why content is missing: 'unknown' (plan: data not fetched) or 'failed'. */
  blocked?: { status: 'unknown' | 'failed' | 'rejected'; reason: string };
  /**
   * What binds outputs into one group: the issuance ids (call ids) whose data the
   * template used, and `t:<index>` shared by a template and its writeToFile outputs.
   */
  links: string[];
  perms?: number;
  uid?: number;
  gid?: number;
  backup: boolean;
  createDirs: boolean;
}

export interface OnDisk {
  exists: boolean;
  content?: Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface PlannedOutput {
  index: number;
  name: string;
  destination: string;
  content?: Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  backup: boolean;
  createDirs: boolean;
  change: 'create' | 'update' | 'mode' | 'owner' | 'none' | 'blocked';
}

export interface PlannedGroup {
  id: string;
  outputs: PlannedOutput[];
  /** blocked: some template of the group could not render, so nothing of it is written. */
  status: 'changed' | 'unchanged' | 'blocked';
  problems: string[];
}

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** perms if explicit; 0600 when the content holds a private key; else the existing file's mode; else 0644. */
export function modeFor(opts: { perms?: number; content: string; existingMode?: number }): number {
  if (opts.perms !== undefined) return opts.perms;
  if (PRIVATE_KEY.test(opts.content)) return 0o600;
  return opts.existingMode ?? 0o644;
}

function groupsOf(outputs: DesiredOutput[]): DesiredOutput[][] {
  const parent = outputs.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const byLink = new Map<string, number>();
  const byDestination = new Map<string, number>();
  outputs.forEach((o, i) => {
    for (const key of [...o.links.map((x) => `l:${x}`), `d:${o.destination}`]) {
      const map = key.startsWith('l:') ? byLink : byDestination;
      const prev = map.get(key);
      if (prev === undefined) map.set(key, i);
      else parent[find(i)] = find(prev);
    }
  });
  const groups = new Map<number, DesiredOutput[]>();
  outputs.forEach((o, i) => {
    const r = find(i);
    groups.set(r, [...(groups.get(r) ?? []), o]);
  });
  return [...groups.values()];
}

export function planGroups(opts: { outputs: DesiredOutput[]; disk: Map<string, OnDisk> }): PlannedGroup[] {
  return groupsOf(opts.outputs).map((members) => {
    const id = `g-${shortHash(members.map((m) => m.destination).sort().join('\n'))}`;
    const blocked = members.filter((m) => m.content === undefined);
    if (blocked.length) {
      return {
        id,
        status: 'blocked',
        problems: blocked.map((m) => `${m.name} -> ${m.destination}: ${m.blocked?.reason ?? 'not rendered'}`),
        outputs: members.map((m) => ({ ...pick(m), change: 'blocked' as const })),
      };
    }
    const outputs = members.map((m): PlannedOutput => {
      const disk = opts.disk.get(m.destination) ?? { exists: false };
      const content = Buffer.from(m.content!, 'utf8');
      const mode = modeFor({ perms: m.perms, content: m.content!, existingMode: disk.mode });
      let change: PlannedOutput['change'] = 'none';
      if (!disk.exists) change = 'create';
      else if (!disk.content || !disk.content.equals(content)) change = 'update';
      else if (disk.mode !== mode) change = 'mode';
      else if ((m.uid !== undefined && m.uid !== disk.uid) || (m.gid !== undefined && m.gid !== disk.gid)) change = 'owner';
      return { ...pick(m), content, mode, change };
    });
    return { id, outputs, status: outputs.some((o) => o.change !== 'none') ? 'changed' : 'unchanged', problems: [] };
  });
}

function pick(m: DesiredOutput) {
  return { index: m.index, name: m.name, destination: m.destination, uid: m.uid, gid: m.gid, backup: m.backup, createDirs: m.createDirs };
}
