# What a control-plane host's token needs for examples/shared-keys/certrender.hcl
# against Vault or OpenBao, and nothing more.

# The shared keys (KV v2 mount "secret"): read them; create them (the first host, with
# check-and-set cas=0); update them (rotate-shared-key, with check-and-set). No delete,
# no metadata access.
path "secret/data/control-plane/service-account" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/control-plane/apiserver" {
  capabilities = ["create", "read", "update"]
}

# Sign the API server CSR (built from the shared key) with the control-plane role.
path "pki/sign/control-plane" {
  capabilities = ["update"]
}

# Read the CA: ca.pem, and the trust anchor certrender pins at the first issuance.
path "pki/cert/ca" {
  capabilities = ["read"]
}
