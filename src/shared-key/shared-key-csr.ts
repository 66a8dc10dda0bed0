/**
 * The CSR `sharedKeyCert` sends to <mount>/sign/<role>: the shared key's public key,
 * the requested common name and SANs (also sent as request parameters, so the role's
 * use_csr_common_name / use_csr_sans settings give the same certificate either way).
 * The CSR is built at fetch time and is not the request's identity (EC signatures are
 * randomised): the issuance is identified by key fingerprint, path and parameters.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { toWebPrivate, toWebPublic, webAlgorithm } from '../issuer/key-gen.js';
import { loadX509 } from '../issuer/x509-lib.js';
import { requestedNames } from '../template/vault-call.js';

export async function sharedKeyCsr(opts: { privatePem: string; params: Record<string, string> }): Promise<string> {
  const x509 = await loadX509();
  const key = createPrivateKey(opts.privatePem);
  const { commonName, altNames, ipSans } = requestedNames(opts.params);
  const names = [
    ...altNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipSans.filter((ip) => isIP(ip)).map((value) => ({ type: 'ip' as const, value })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: commonName ? `CN=${commonName.replace(/([,+"\\<>;=])/g, '\\$1')}` : '',
    keys: { privateKey: await toWebPrivate(key), publicKey: await toWebPublic(createPublicKey(key)) },
    signingAlgorithm: webAlgorithm(key).signAlg,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString('pem');
}
