/**
 * A minimal DER reader: enough of X.690 to walk a certificate. Definite lengths only
 * (DER has no other), low tag numbers only (X.509 uses no others). Anything outside
 * that, or a length running past its parent, throws: callers treat a throw as "does
 * not parse".
 */

export interface Tlv {
  /** The identifier octet as it appears (class, constructed bit and number together). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  body: number;
  /** Offset just past the content. */
  end: number;
}

export function readTlv(buf: Uint8Array, pos: number, limit = buf.length): Tlv {
  if (pos + 2 > limit) throw new Error(`DER: truncated element at ${pos}`);
  const tag = buf[pos];
  if ((tag & 0x1f) === 0x1f) throw new Error(`DER: high tag number at ${pos}`);
  let len = buf[pos + 1];
  let body = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error(`DER: unsupported length form at ${pos}`);
    if (body + n > limit) throw new Error(`DER: truncated length at ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i];
    body += n;
  }
  const end = body + len;
  if (end > limit) throw new Error(`DER: element at ${pos} runs past its container`);
  return { tag, start: pos, body, end };
}

/** The elements inside a constructed element, in order. */
export function childrenOf(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.body; pos < parent.end; ) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function contentOf(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.body, t.end);
}

/** Dotted form of an OBJECT IDENTIFIER's content. */
export function decodeOid(bytes: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** Non-negative INTEGER content as a number (path lengths and the like: small). */
export function decodeSmallInt(bytes: Uint8Array): number {
  if (bytes.length === 0 || bytes.length > 6 || bytes[0] & 0x80) throw new Error('DER: integer out of range');
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

/** UTCTime (tag 0x17) or GeneralizedTime (0x18) content, which DER requires to end in Z. */
export function decodeTime(tag: number, bytes: Uint8Array): Date {
  const s = Buffer.from(bytes).toString('latin1');
  const m = tag === 0x17 ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new Error(`DER: bad time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (tag === 0x17) year += year >= 50 ? 1900 : 2000;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
