vault {
  address = "{{VAULT_ADDR}}"
}

template {
  source      = "ca.tpl"
  destination = "pki/ca.pem"
}

template {
  source      = "apiserver-cert.tpl"
  destination = "pki/apiserver.pem"
}
