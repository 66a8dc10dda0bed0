{{- with sharedKeyCert "apiserver" "pki/sign/control-plane" "common_name=kube-apiserver" "alt_names=kubernetes,kubernetes.default,kubernetes.default.svc" (printf "ip_sans=%s" (envOrDefault "CP_HOST_IP" "127.0.0.1")) "ttl=720h" }}
{{- .Key }}
{{ end -}}
