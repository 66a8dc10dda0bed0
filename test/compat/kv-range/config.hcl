vault {
  address = "{{VAULT_ADDR}}"
}

template {
  source      = "settings.tpl"
  destination = "out/settings.env"
}
