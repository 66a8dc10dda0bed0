{{ with secret "pki_k8s/issue/kubernetes" "common_name=etcd.kubernetes" "alt_names=etcd-0.kubernetes, etcd-1.kubernetes" "ip_sans=127.0.0.1" "ttl=720h" }}{{ .Data.certificate }}{{ end }}
