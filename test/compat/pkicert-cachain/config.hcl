vault {
  address = "{{VAULT_ADDR}}"
}

template {
  source      = "api.tpl"
  destination = "tls/api-fullchain.pem"
}
