import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { callId, issuanceBody, issuanceTarget, makeCall, requestedNames } from './vault-call.js';

test('no argument is a read; any argument makes it a write', () => {
  assert.is(makeCall('pki/cert/ca', []).kind, 'read');
  assert.is(makeCall('pki/issue/r', ['common_name=a']).kind, 'write');
});

test('arguments split on the first "=", trimmed, values stay strings', () => {
  assert.equal(makeCall('p/issue/r', [' alt_names = a, b ', 'x=y=z', 'ttl=10']).params, { alt_names: 'a, b', x: 'y=z', ttl: '10' });
});

test('identity ignores argument order, not values', () => {
  const a = callId(makeCall('pki/issue/r', ['common_name=a', 'ttl=1h']));
  const b = callId(makeCall('pki/issue/r', ['ttl=1h', 'common_name=a']));
  const c = callId(makeCall('pki/issue/r', ['ttl=2h', 'common_name=a']));
  assert.is(a, b);
  assert.is.not(a, c);
  assert.is(callId(makeCall('/v1/pki/issue/r', [{ common_name: 'a', ttl: '1h' }])), a, 'object form and /v1 prefix');
});

test('an argument without "=" is an error naming it', () => {
  try {
    makeCall('pki/issue/r', ['common_name']);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'CR_TEMPLATE_FUNCTION');
  }
});

test('issuance targets', () => {
  const w = (p: string) => issuanceTarget(makeCall(p, ['a=b']));
  assert.equal(w('pki/issue/web'), { mount: 'pki', op: 'issue', role: 'web' });
  assert.equal(w('pki_k8s/sign/kubernetes'), { mount: 'pki_k8s', op: 'sign', role: 'kubernetes' });
  assert.equal(w('a/b/pki/issuer/default/issue/web'), { mount: 'a/b/pki', op: 'issue', role: 'web' });
  assert.is(w('pki/roles/web'), undefined);
  assert.is(issuanceTarget(makeCall('pki/issue/web', [])), undefined, 'a read is never an issuance');
});

test('requested names and the body sent: comma lists trimmed', () => {
  const params = { common_name: 'api', alt_names: 'a, b ,c', ip_sans: '10.0.0.1, 10.0.0.2', exclude_cn_from_sans: 'true' };
  assert.equal(requestedNames(params), { commonName: 'api', altNames: ['a', 'b', 'c'], ipSans: ['10.0.0.1', '10.0.0.2'], excludeCnFromSans: true });
  assert.equal(issuanceBody(params), { ...params, alt_names: 'a,b,c', ip_sans: '10.0.0.1,10.0.0.2' });
});

test.run();
