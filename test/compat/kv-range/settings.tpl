{{- with secret "secret/data/settings" -}}
# {{ len .Data.data }} settings, version {{ .Data.metadata.version }}
{{ range $k, $v := .Data.data -}}
{{ $k }}={{ $v }}
{{ end -}}
{{ end -}}
