import type { Problem } from './problem.js';

export interface PemBlock {
  label: string;
  der: Buffer;
  /** Canonical re-encoding of the block (base64 wrapped at 64 columns, trailing newline). */
  pem: string;
}

export type PemParseResult = { ok: true; blocks: PemBlock[] } | { ok: false; problems: Problem[] };

const BEGIN = /^-----BEGIN ([A-Z0-9]+(?: [A-Z0-9]+)*)-----$/;
const END = /^-----END ([A-Z0-9]+(?: [A-Z0-9]+)*)-----$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True when the text contains a PEM BEGIN marker anywhere (even one that would not parse). */
export function isPemLike(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]+-----/.test(text);
}

function toPem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/.{64}(?=.)/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/**
 * Strict PEM parser. Lines are compared after trimming surrounding whitespace; text
 * outside blocks is allowed, but a line holding a BEGIN/END marker must be exactly
 * that marker (so `[PEM PEM]` and blocks glued on one line are rejected). Inside a block every line must be base64 (no RFC 1421
 * headers), the body must decode, the END label must match the BEGIN label, and a
 * block must be closed before another one opens or the text ends.
 */
export function parsePemBlocks(text: string): PemParseResult {
  const blocks: PemBlock[] = [];
  const problems: Problem[] = [];
  const problem = (message: string) => problems.push({ rule: 'pem_invalid', message });
  let open: { label: string; line: number; body: string[] } | undefined;

  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const lineNo = index + 1;
    const begin = BEGIN.exec(line);
    const end = END.exec(line);
    if (begin) {
      if (open) problem(`line ${lineNo}: BEGIN ${begin[1]} inside the unterminated ${open.label} block opened at line ${open.line}`);
      open = { label: begin[1], line: lineNo, body: [] };
    } else if (end) {
      if (!open) {
        problem(`line ${lineNo}: END ${end[1]} without a matching BEGIN`);
      } else if (end[1] !== open.label) {
        problem(`line ${lineNo}: END ${end[1]} closes the ${open.label} block opened at line ${open.line}`);
      } else {
        const block = decodeBlock(open.label, open.body.join(''));
        if (block) blocks.push(block);
        else problem(`${open.label} block at line ${open.line}: body is not valid base64`);
      }
      open = undefined;
    } else if (/-----(BEGIN|END) /.test(line)) {
      // Layout, not corruption: a Go-list-printed chain (`[PEM PEM]`) or blocks glued
      // without a newline, which consul-template fleets write as they are.
      problems.push({ rule: 'pem_layout', message: `line ${lineNo}: PEM marker not on a line of its own` });
      // Resynchronise: a glued "...END X----------BEGIN Y-----" line opens Y.
      const trailing = /-----BEGIN ([A-Z0-9 ]+)-----$/.exec(line);
      open = trailing ? { label: trailing[1], line: lineNo, body: [] } : undefined;
    } else if (open) {
      open.body.push(line);
    }
  });
  if (open) problem(`${open.label} block opened at line ${open.line} is truncated (no END line)`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, blocks };
}

function decodeBlock(label: string, b64: string): PemBlock | undefined {
  if (b64.length === 0 || b64.length % 4 !== 0 || !BASE64.test(b64)) return undefined;
  const der = Buffer.from(b64, 'base64');
  return { label, der, pem: toPem(label, der) };
}
