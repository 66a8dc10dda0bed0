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

/** pkiCert's view: .Cert .Key .CA .CAChain, and .Data returning the same struct. */
export function pkiCertView(r: VaultResponse): PkiCertView {
  const d = r.data ?? {};
  const chain = Array.isArray(d.ca_chain) ? d.ca_chain.map(String) : d.ca_chain ? [String(d.ca_chain)] : [];
  const v = { Cert: String(d.certificate ?? ''), Key: String(d.private_key ?? ''), CA: String(d.issuing_ca ?? ''), CAChain: chain };
  return { ...v, Data: v };
}
