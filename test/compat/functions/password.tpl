{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}
