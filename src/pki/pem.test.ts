import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isPemLike, parsePemBlocks } from './pem.js';

const der = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
const body = der.toString('base64').replace(/.{64}/g, '$&\n');
const block = (label: string, b = body, endLabel = label) => `-----BEGIN ${label}-----\n${b}\n-----END ${endLabel}-----\n`;

const rules = (r: ReturnType<typeof parsePemBlocks>) => (r.ok ? [] : r.problems.map((p) => p.rule));

test('parses several blocks with text around them and CRLF line ends', () => {
  const text = `subject=foo\n${block('CERTIFICATE')}between\r\n${block('PRIVATE KEY').replace(/\n/g, '\r\n')}trailing`;
  const r = parsePemBlocks(text);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.blocks.map((b) => b.label), ['CERTIFICATE', 'PRIVATE KEY']);
  assert.ok(r.blocks[1].der.equals(der));
  assert.is(r.blocks[0].pem, block('CERTIFICATE'));
});

test('empty text holds no blocks', () => {
  assert.equal(parsePemBlocks('just text\n'), { ok: true, blocks: [] });
});

const broken: [string, string][] = [
  ['mismatched labels', block('CERTIFICATE', body, 'PRIVATE KEY')],
  ['END without BEGIN', `${body}\n-----END CERTIFICATE-----\n`],
  ['truncated block', block('CERTIFICATE').split('\n').slice(0, 2).join('\n')],
  ['BEGIN inside an open block', `-----BEGIN CERTIFICATE-----\n${body}\n${block('CERTIFICATE')}`],
  ['garbage base64', block('CERTIFICATE', 'this is !!! not base64')],
  ['bad base64 length', block('CERTIFICATE', 'QUJDRA')],
  ['empty body', block('CERTIFICATE', '')],
  ['RFC 1421 headers', block('RSA PRIVATE KEY', `Proc-Type: 4,ENCRYPTED\n\n${body}`)],
];
for (const [name, text] of broken) {
  test(`rejects ${name}`, () => {
    assert.equal(rules(parsePemBlocks(text)).slice(0, 1), ['pem_invalid']);
  });
}

// Layout problems (what consul-template fleets write and their consumers live with)
// have their own rule, so the cycle can write them with a warning instead of rejecting.
const layout: [string, string][] = [
  ['blocks joined on one line', block('CERTIFICATE').trimEnd() + block('CERTIFICATE')],
  ['Go list of PEMs', `[${block('CERTIFICATE').trimEnd()} ${block('CERTIFICATE').trimEnd()}]`],
];
for (const [name, text] of layout) {
  test(`reports ${name} as a layout problem`, () => {
    const r = rules(parsePemBlocks(text));
    assert.ok(r.length > 0 && r.every((x) => x === 'pem_layout'), r.join());
  });
}

test('a truncated block is reported even after a good one', () => {
  const r = parsePemBlocks(block('CERTIFICATE') + '-----BEGIN CERTIFICATE-----\nQUJD\n');
  assert.equal(rules(r), ['pem_invalid']);
});

test('isPemLike', () => {
  assert.ok(isPemLike(`x${block('CERTIFICATE')}`));
  assert.ok(isPemLike('[-----BEGIN CERTIFICATE-----'));
  assert.not.ok(isPemLike('no pem here -----END CERTIFICATE-----'));
});

test.run();
