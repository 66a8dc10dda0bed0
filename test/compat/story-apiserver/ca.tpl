{{- /* ca.tpl */ -}}
{{ with secret "pki_k8s/cert/ca" }}{{ .Data.certificate }}{{ end }}
