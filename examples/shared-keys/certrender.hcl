# Shared keys: material identical on every control-plane host (the service-account key
# pair, the API server key), generated once by whichever host needs it first and shared
# through Vault KV v2 with check-and-set. Every master runs this same config; each gets
# its own API server certificate (its own IP SAN, from CP_HOST_IP) on the shared key.
#
#   CP_HOST_IP=10.0.0.11 npx certrender once --config examples/shared-keys/certrender.hcl
#
# This example runs on the embedded local CA (its KV lives in the state directory, so
# "shared" means shared by the runs of one host). Swap local_ca for a
# vault { address = "..." } block, and give the token examples/shared-keys/policy.hcl,
# to share the keys between hosts; the PKI role must accept the key type (key_type =
# "rsa" or "any"). Rotation: docs/shared-keys.md.

state_dir = "examples/shared-keys/state"

local_ca {
  common_name = "certrender shared-keys example CA"
  ttl         = "720h"
}

shared_key "service-account" {
  kv_path = "secret/data/control-plane/service-account"
  type    = "rsa-2048"
}

shared_key "apiserver" {
  kv_path = "secret/data/control-plane/apiserver"
  type    = "rsa-2048"
}

# sa.key: the private key (PKCS#8; .PrivateKeyPKCS1 for PKCS#1). Mode 0600 by default.
template {
  source      = "examples/shared-keys/templates/sa.key.njk"
  destination = "examples/shared-keys/out/sa.key"
}

# sa.pub: the active AND pending public keys, as --service-account-key-file takes them.
template {
  source      = "examples/shared-keys/templates/sa.pub.njk"
  destination = "examples/shared-keys/out/sa.pub"
}

# The API server certificate and key: one signing request (same call in both templates),
# one group on disk. Go templates, as consul-template fleets write them.
template {
  source      = "examples/shared-keys/templates/apiserver.crt.tpl"
  destination = "examples/shared-keys/out/apiserver.crt"
}

template {
  source      = "examples/shared-keys/templates/apiserver.key.tpl"
  destination = "examples/shared-keys/out/apiserver.key"
}

template {
  contents    = "{{ secret(\"pki/cert/ca\").Data.certificate }}\n"
  destination = "examples/shared-keys/out/ca.pem"
}
