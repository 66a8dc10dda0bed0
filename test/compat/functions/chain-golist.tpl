{{ with secret "pki_int/issue/web" "common_name=www.example.com" "ttl=24h" }}{{ .Data.ca_chain }}{{ end }}
