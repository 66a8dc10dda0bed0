{{- with pkiCert "pki_k8s/issue/kubernetes" "common_name=front-proxy.kubernetes" "ttl=720h" -}}
{{ .Cert }}{{ .Key | writeToFile "pki/front-proxy-key.pem" "" "" "0600" }}{{ .CA | writeToFile "pki/front-proxy-ca.pem" "" "" "0644" }}
{{- end }}
