# certrender quickstart: the embedded local CA, no Vault needed.
#
#   npx certrender once --config examples/quickstart/certrender.hcl
#
# writes out/ca.pem, out/server.pem and out/server-key.pem; then
#   openssl verify -CAfile examples/quickstart/out/ca.pem examples/quickstart/out/server.pem
#
# Paths are relative to the working directory (as in consul-template): run it from the
# repository root. Swap the local_ca block for a vault { address = "..." } block and the
# same templates run against Vault or OpenBao.

state_dir = "examples/quickstart/state"

local_ca {
  common_name = "certrender quickstart CA"
  ttl         = "720h"
}

# The CA certificate: a read of <mount>/cert/ca.
template {
  source      = "examples/quickstart/templates/ca.pem.njk"
  destination = "examples/quickstart/out/ca.pem"
}

# The certificate and its key come from ONE issuance: both templates make the same
# call (same path, same arguments), so they are one request and one group on disk.
template {
  source      = "examples/quickstart/templates/server.pem.njk"
  destination = "examples/quickstart/out/server.pem"
}

template {
  source      = "examples/quickstart/templates/server-key.pem.njk"
  destination = "examples/quickstart/out/server-key.pem"
}
