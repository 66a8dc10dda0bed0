{{- with pkiCert "pki_int/issue/web" "common_name=api.example.com" "alt_names=api-internal.example.com" "ttl=24h" -}}
{{ .Cert }}{{ range .CAChain }}{{ . }}{{ end }}{{ .Key | writeToFile "tls/api-key.pem" "" "" "0600" }}
{{- end -}}
