vault {
  address = "{{VAULT_ADDR}}"
}

template {
  source      = "front-proxy.tpl"
  destination = "pki/front-proxy.pem"
}
