/** `user`/`group` of a template block (a name or an id) to numeric ids, from /etc/passwd and /etc/group. */
import { readFileSync } from 'node:fs';
import { CertrenderError } from '../errors.js';

function lookup(file: string, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined) return Number(f[2]);
  }
  return undefined;
}

export function resolveOwner(kind: 'user' | 'group', v: string | number | undefined, where: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number') return v;
  if (/^\d+$/.test(v)) return Number(v);
  const id = lookup(kind === 'user' ? '/etc/passwd' : '/etc/group', v);
  if (id === undefined) {
    throw new CertrenderError('CR_CONFIG_INVALID', `${where}: ${kind} "${v}" does not exist on this host`, {
      hint: `create the ${kind} or give a numeric id`,
      context: { [kind]: v },
    });
  }
  return id;
}
