vault {
  address = "{{VAULT_ADDR}}"
}

template {
  source      = "etcd-cert.tpl"
  destination = "pki/etcd.pem"
}

template {
  source      = "etcd-key.tpl"
  destination = "pki/etcd-key.pem"
  perms       = 0600
}
