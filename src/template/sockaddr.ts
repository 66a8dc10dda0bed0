/**
 * The go-sockaddr template calls fleets use with consul-template's `sockaddr`:
 * GetPrivateIP, GetPrivateIPs, GetPublicIP, GetInterfaceIP "name". IPv4 only, in the
 * order node:os reports interfaces (go-sockaddr puts the default-route interface first).
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

type Addrs = Record<string, NetworkInterfaceInfo[] | undefined>;

const PRIVATE = [/^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];
const isPrivate = (a: string) => PRIVATE.some((r) => r.test(a));

function ipv4(addrs: Addrs, name?: string): string[] {
  return Object.entries(addrs)
    .filter(([n]) => name === undefined || n === name)
    .flatMap(([, list]) => list ?? [])
    .filter((i) => i.family === 'IPv4' && !i.internal)
    .map((i) => i.address);
}

/** The result of a sockaddr template expression, or undefined when the expression is not supported. */
export function evalSockaddr(expr: string, addrs: Addrs = networkInterfaces()): string | undefined {
  const e = expr.trim();
  if (e === 'GetPrivateIP') return ipv4(addrs).find(isPrivate) ?? '';
  if (e === 'GetPrivateIPs') return ipv4(addrs).filter(isPrivate).join(' ');
  if (e === 'GetPublicIP') return ipv4(addrs).find((a) => !isPrivate(a) && !a.startsWith('169.254.')) ?? '';
  const named = /^GetInterfaceIP\s+"([^"]+)"$/.exec(e);
  if (named) return ipv4(addrs, named[1])[0] ?? '';
  return undefined;
}
