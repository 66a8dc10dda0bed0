import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isCertrenderError } from '../errors.js';
import { decideIssuance, drawRenewAt, type StoredIssuance } from './renewal.js';

const DAY = 86_400_000;
const notBefore = new Date('2030-01-01T00:00:00Z');
const notAfter = new Date(notBefore.getTime() + 90 * DAY);
const lifetime = 90 * DAY;
const at = (days: number) => new Date(notBefore.getTime() + days * DAY);

test('drawRenewAt: random 0 lands on the fraction point, random ~1 on fraction - jitter', () => {
  const base = { notBefore, notAfter, fraction: 2 / 3, jitter: 0.05 };
  assert.is(drawRenewAt({ ...base, random: () => 0 }).getTime(), notBefore.getTime() + lifetime * (2 / 3));
  const late = drawRenewAt({ ...base, random: () => 0.9999999 }).getTime();
  assert.ok(late >= notBefore.getTime() + lifetime * (2 / 3 - 0.05));
  assert.ok(late < notBefore.getTime() + lifetime * (2 / 3 - 0.0499));
});

test('drawRenewAt: never outside [fraction - jitter, fraction] whatever random returns', () => {
  const lo = notBefore.getTime() + lifetime * 0.85;
  const hi = notBefore.getTime() + lifetime * 0.9;
  for (const r of [0, 0.25, 0.5, 0.999, 1, -3, 7]) {
    const t = drawRenewAt({ notBefore, notAfter, fraction: 0.9, jitter: 0.05, random: () => r }).getTime();
    assert.ok(t >= Math.floor(lo) && t <= hi, `random ${r} gave ${new Date(t).toISOString()}`);
  }
});

test('drawRenewAt: defaults are 2/3 and 5%', () => {
  assert.is(drawRenewAt({ notBefore, notAfter, random: () => 0 }).getTime(), at(60).getTime());
  assert.is(drawRenewAt({ notBefore, notAfter, random: () => 1 }).getTime(), at(60 - 4.5).getTime());
});

test('drawRenewAt: out-of-range fraction or jitter is a bug', () => {
  for (const bad of [{ fraction: 0 }, { fraction: 1.5 }, { jitter: -0.1 }, { fraction: 0.5, jitter: 0.6 }]) {
    try {
      drawRenewAt({ notBefore, notAfter, random: () => 0, ...bad });
      assert.unreachable(JSON.stringify(bad));
    } catch (e) {
      assert.ok(isCertrenderError(e) && e.code === 'CR_INTERNAL', JSON.stringify(bad));
    }
  }
});

const ANCHOR = 'AA:BB:CC';
const stored: StoredIssuance = {
  requestHash: 'h1',
  notBefore,
  notAfter,
  renewAt: at(60),
  issuerPublicKeyFingerprint256: ANCHOR,
  valid: true,
};
const base = { stored, requestHash: 'h1', anchorPublicKeyFingerprints: [ANCHOR], now: at(10), force: false };

const table: [string, Partial<typeof base> & { stored?: StoredIssuance }, string, string][] = [
  ['fresh, same request, same anchor', {}, 'reuse', 'reused'],
  ['anchor list also holds other anchors', { anchorPublicKeyFingerprints: ['00:11', ANCHOR] }, 'reuse', 'reused'],
  ['fingerprint compared without case or colons', { anchorPublicKeyFingerprints: ['aabbcc'] }, 'reuse', 'reused'],
  // Records stored before 2026-12 dropped a fingerprint's leading zero bytes.
  ['a stored fingerprint without its leading zero byte', { anchorPublicKeyFingerprints: ['00:AA:BB:CC'] }, 'reuse', 'reused'],
  ['a zero byte is not ignored elsewhere', { anchorPublicKeyFingerprints: ['AA:00:BB:CC'] }, 'issue', 'issuer_changed'],
  ['one ms before renewAt', { now: new Date(at(60).getTime() - 1) }, 'reuse', 'reused'],
  ['forced', { force: true }, 'issue', 'forced'],
  ['missing', { stored: undefined }, 'issue', 'missing'],
  ['request changed', { requestHash: 'h2' }, 'issue', 'request_changed'],
  ['not validated at issuance', { stored: { ...stored, valid: false } }, 'issue', 'invalid'],
  ['expired', { now: at(91) }, 'issue', 'invalid'],
  ['not yet valid', { now: at(-1) }, 'issue', 'invalid'],
  ['issuer changed', { anchorPublicKeyFingerprints: ['DD:EE'] }, 'issue', 'issuer_changed'],
  ['no anchors at all', { anchorPublicKeyFingerprints: [] }, 'issue', 'issuer_changed'],
  ['at renewAt', { now: at(60) }, 'issue', 'in_window'],
  ['past renewAt', { now: at(80) }, 'issue', 'in_window'],
  // precedence
  ['forced beats missing', { force: true, stored: undefined }, 'issue', 'forced'],
  ['forced beats everything', { force: true, requestHash: 'h2', now: at(91), anchorPublicKeyFingerprints: [] }, 'issue', 'forced'],
  ['request_changed beats invalid', { requestHash: 'h2', now: at(91) }, 'issue', 'request_changed'],
  ['invalid beats issuer_changed', { now: at(91), anchorPublicKeyFingerprints: ['DD:EE'] }, 'issue', 'invalid'],
  ['issuer_changed beats in_window', { now: at(80), anchorPublicKeyFingerprints: ['DD:EE'] }, 'issue', 'issuer_changed'],
];
for (const [name, override, action, reason] of table) {
  test(`decideIssuance: ${name} -> ${reason}`, () => {
    const d = decideIssuance({ ...base, ...override });
    assert.is(d.reason, reason);
    assert.is(d.action, action);
  });
}

test('decideIssuance: reuse reports when to wake', () => {
  assert.equal(decideIssuance(base).renewAt, at(60));
});

test.run();
