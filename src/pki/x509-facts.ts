/**
 * The facts validation needs from a certificate that node:crypto's X509Certificate does
 * not give in a usable form (names as structured data, SANs without string escaping,
 * path length, key usage), read straight from the DER. It replaces @peculiar/x509 on
 * this path: that library costs ~150 ms to load and milliseconds per certificate, and
 * keeps ~12 MB resident in the daemon. Names print as @peculiar/x509 prints them
 * (RFC 4514-like, in certificate order), so messages and stored state do not change.
 */
import { childrenOf, contentOf, decodeOid, decodeSmallInt, decodeTime, readTlv, type Tlv } from './der.js';

export interface X509Facts {
  subject: string;
  issuer: string;
  /** The first CN of the subject. */
  commonName?: string;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  pathLength?: number;
  /** False only when a KeyUsage extension is present without keyCertSign (RFC 5280: absent means unrestricted). */
  keyCertSign: boolean;
  dnsNames: string[];
  /** As written in the certificate: dotted IPv4, or eight uncompressed IPv6 groups. */
  ipAddresses: string[];
  /** The SubjectPublicKeyInfo as encoded (DER is canonical: the bytes node:crypto would export). */
  spki: Uint8Array;
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
};

const SEQUENCE = 0x30;
const EXT_BASIC_CONSTRAINTS = '2.5.29.19';
const EXT_KEY_USAGE = '2.5.29.15';
const EXT_SAN = '2.5.29.17';

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new Error(`X.509: ${what} missing or malformed`);
  return t;
}

/** A DirectoryString (or IA5String) value as text; undefined for any other type. */
function decodeString(tag: number, bytes: Uint8Array): string | undefined {
  const buf = Buffer.from(bytes);
  switch (tag) {
    case 0x0c: // UTF8String
      return buf.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString
      return buf.toString('latin1');
    case 0x1e: // BMPString: UTF-16BE
      return Buffer.from(buf).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString: UCS-4BE
      let s = '';
      for (let i = 0; i + 3 < buf.length; i += 4) s += String.fromCodePoint(buf.readUInt32BE(i));
      return s;
    }
    default:
      return undefined;
  }
}

function escapeValue(v: string): string {
  return v
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/( $)/, '\\$1')
    .replace(/[\r\n\t]/, (c) => `\\${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

function readName(der: Uint8Array, name: Tlv): { text: string; cn?: string } {
  let cn: string | undefined;
  const rdns = childrenOf(der, expect(name, SEQUENCE, 'name')).map((set) =>
    childrenOf(der, set)
      .map((atv) => {
        const [oidT, valueT] = childrenOf(der, expect(atv, SEQUENCE, 'name attribute'));
        const oid = decodeOid(contentOf(der, expect(oidT, 0x06, 'attribute type')));
        const text = decodeString(valueT.tag, contentOf(der, valueT));
        if (oid === '2.5.4.3' && text !== undefined) cn ??= text;
        const value = text === undefined ? `#${Buffer.from(der.subarray(valueT.start, valueT.end)).toString('hex')}` : escapeValue(text);
        return `${SHORT_NAMES[oid] ?? oid}=${value}`;
      })
      .join('+'),
  );
  return { text: rdns.join(', '), cn };
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
    return groups.join(':');
  }
  return Buffer.from(bytes).toString('hex');
}

/** Reads the facts from a certificate's DER. Throws when the structure is not a certificate. */
export function x509Facts(der: Uint8Array): X509Facts {
  const cert = expect(readTlv(der, 0), SEQUENCE, 'certificate');
  const tbs = expect(childrenOf(der, cert)[0], SEQUENCE, 'tbsCertificate');
  const fields = childrenOf(der, tbs);
  let i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  i += 2; // serialNumber, signature
  const issuer = readName(der, fields[i++]);
  const validity = childrenOf(der, expect(fields[i++], SEQUENCE, 'validity'));
  const subject = readName(der, fields[i++]);
  const spki = expect(fields[i++], SEQUENCE, 'subjectPublicKeyInfo');
  const facts: X509Facts = {
    subject: subject.text,
    issuer: issuer.text,
    commonName: subject.cn,
    notBefore: decodeTime(validity[0].tag, contentOf(der, validity[0])),
    notAfter: decodeTime(validity[1].tag, contentOf(der, validity[1])),
    ca: false,
    keyCertSign: true,
    dnsNames: [],
    ipAddresses: [],
    spki: der.subarray(spki.start, spki.end),
  };
  const extsWrapper = fields.slice(i).find((f) => f.tag === 0xa3);
  if (!extsWrapper) return facts;
  const exts = expect(childrenOf(der, extsWrapper)[0], SEQUENCE, 'extensions');
  for (const ext of childrenOf(der, exts)) {
    const parts = childrenOf(der, expect(ext, SEQUENCE, 'extension'));
    const oid = decodeOid(contentOf(der, expect(parts[0], 0x06, 'extension id')));
    const octets = expect(parts[parts.length - 1], 0x04, 'extension value');
    const value = readTlv(der, octets.body, octets.end);
    if (oid === EXT_BASIC_CONSTRAINTS) {
      for (const f of childrenOf(der, expect(value, SEQUENCE, 'basicConstraints'))) {
        if (f.tag === 0x01) facts.ca = der[f.body] !== 0;
        else if (f.tag === 0x02) facts.pathLength = decodeSmallInt(contentOf(der, f));
      }
    } else if (oid === EXT_KEY_USAGE) {
      const bits = contentOf(der, expect(value, 0x03, 'keyUsage'));
      facts.keyCertSign = bits.length > 1 && (bits[1] & 0x04) !== 0;
    } else if (oid === EXT_SAN) {
      for (const gn of childrenOf(der, expect(value, SEQUENCE, 'subjectAltName'))) {
        if (gn.tag === 0x82) facts.dnsNames.push(Buffer.from(contentOf(der, gn)).toString('latin1'));
        else if (gn.tag === 0x87) facts.ipAddresses.push(formatIp(contentOf(der, gn)));
      }
    }
  }
  return facts;
}
