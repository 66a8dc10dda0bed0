vault {
  address = "{{VAULT_ADDR}}"
}

template {
  source      = "printf-env.tpl"
  destination = "out/printf-env.txt"
}

template {
  source      = "chain.tpl"
  destination = "out/web-chain.pem"
}

# consul-template classic: the chain printed as a Go list
template {
  source      = "chain-golist.tpl"
  destination = "out/web-ca-golist.pem"
}

template {
  source      = "password.tpl"
  destination = "out/password"
  perms       = "0600"
}

template {
  source      = "app-json.tpl"
  destination = "out/app.json"
}
