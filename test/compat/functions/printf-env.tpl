{{ printf "%s-%03d" (env "APP_NAME") 7 }}
{{ printf "%q %v %x %d" "a\"b" true 255 -4 }}
{{ env "COMPAT_UNSET_VARIABLE" | printf "[%s]" }}
{{ $region := env "APP_REGION" }}{{ if eq $region "eu-west" }}region={{ $region }}{{ else }}no region{{ end }}
