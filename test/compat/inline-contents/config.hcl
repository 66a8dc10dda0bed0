vault {
  address = "{{VAULT_ADDR}}"
}

# inline contents are Go templates in a consul-template config
template {
  contents    = "{{ with secret \"secret/data/inline\" }}{{ .Data.data | toJSON }}{{ end }}"
  destination = "out/app.json"
}
