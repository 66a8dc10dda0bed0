/** The JSON body Vault/OpenBao returns, and its Go-field view as templates see it. */
export interface VaultResponse {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data: Record<string, any> | null;
  warnings?: string[] | null;
}

/** consul-template exposes Go field names: .Data, .LeaseID, .LeaseDuration, .Renewable, .Warnings. */
export interface SecretView {
  Data: Record<string, any>;
  LeaseID: string;
  LeaseDuration: number;
  Renewable: boolean;
  Warnings: string[];
}

export function secretView(r: VaultResponse): SecretView {
  return {
    Data: r.data ?? {},
    LeaseID: r.lease_id ?? '',
    LeaseDuration: r.lease_duration ?? 0,
    Renewable: r.renewable ?? false,
    Warnings: r.warnings ?? [],
  };
}

export interface PkiCertView {
  Cert: string;
  Key: string;
  CA: string;
  CAChain: string[];
  Data: { Cert: string; Key: string; CA: string; CAChain: string[] };
}

/**
 * consul-template re-encodes each pkiCert field with Go's pem.EncodeToMemory, so every
 * PEM ends with a newline (Vault's strings do not): `{{ .Cert }}{{ .CA }}` is a clean
 * chain, not glued blocks.
 */
export function pemField(v: unknown): string {
  const s = String(v ?? '');
  return s === '' || s.endsWith('\n') ? s : `${s}\n`;
}

/** pkiCert's view: .Cert .Key .CA .CAChain, and .Data returning the same struct. */
export function pkiCertView(r: VaultResponse): PkiCertView {
  const d = r.data ?? {};
  const chain = Array.isArray(d.ca_chain) ? d.ca_chain.map(pemField) : d.ca_chain ? [pemField(d.ca_chain)] : [];
  const v = { Cert: pemField(d.certificate), Key: pemField(d.private_key), CA: pemField(d.issuing_ca), CAChain: chain };
  return { ...v, Data: v };
}
