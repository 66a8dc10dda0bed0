# A daemon config: what runs under examples/systemd/certrender.service.
# Uses the embedded local CA so it runs anywhere; replace local_ca {} with a
# vault { address = "..." } block for Vault or OpenBao.

state_dir = "examples/systemd/state"

local_ca {}

# Re-check disk and state every 10 minutes, besides the renewal timers.
check_schedule = "*/10 * * * *"

# Renewals that restart a service happen on weekdays 02:00-04:00 UTC, unless the
# certificate would expire before the next window.
renew_window {
  cron     = "0 2 * * 1-5"
  duration = "2h"
}

# /metrics and /healthz
listen = "127.0.0.1:9464"

hook "reload-web" {
  command = ["/bin/sh", "-c", "echo reload web server"]
  order   = 10
  gate {
    type    = "exec"
    command = ["/bin/true"]
    timeout = "30s"
  }
}

template {
  contents    = "{{ secret(\"pki/issue/web\", \"common_name=web.example\", \"ttl=720h\").Data.certificate }}"
  destination = "examples/systemd/out/web.pem"
  engine      = "nunjucks"
  notify      = ["reload-web"]
}

template {
  contents    = "{{ secret(\"pki/issue/web\", \"common_name=web.example\", \"ttl=720h\").Data.private_key }}"
  destination = "examples/systemd/out/web-key.pem"
  engine      = "nunjucks"
  notify      = ["reload-web"]
}
