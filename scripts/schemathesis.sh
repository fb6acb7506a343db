#!/usr/bin/env bash
# schemathesis against the live gateway's OpenAPI document, authenticated, over
# every route: no 5xx, no response that breaks its schema. Manifests backend,
# so generated projects land in a temporary folder.
#
# Two gateways: one on the users file, and one on a real slapd (the example
# directory), so generated user names and passwords also meet LDAP (filter
# escaping, odd characters, empty and huge values).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ldap_port=$(free_port)
python -m tests.ldap.slapd --port "$ldap_port" >"$tmp/slapd.log" 2>&1 &
pids+=($!)
printf '%s' spin-gateway-demo-pw >"$tmp/bind.password"
sed "s#ldap://127.0.0.1:3890#ldap://127.0.0.1:$ldap_port#; s#bind_password_env: SPIN_LDAP_BIND_PASSWORD#bind_password_file: $tmp/bind.password#" \
  examples/ldap/gateway-ldap.yaml >"$tmp/ldap.yaml"

start_gateway() {  # name, then the identity flags; sets $port (not in a subshell, so the pid is kept)
  local name=$1; shift
  port=$(free_port)
  mkdir -p "$tmp/$name"
  spin gateway serve --port "$port" --backend manifests --manifests-dir "$tmp/$name/manifests" \
    --policy-dir rego --audit-log "$tmp/$name/audit.log" --state-dir "$tmp/$name/state" "$@" \
    >"$tmp/$name/gateway.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
}

status=0
run() {  # gateway name, port, user
  local name=$1 port=$2 user=$3 token
  token=$(spin gateway token --user "$user" --state-dir "$tmp/$name/state")
  # A project named as the OpenAPI examples name it, so status, logs and down meet one that exists.
  curl -sS -o /dev/null -X PUT "http://127.0.0.1:$port/v1/projects/demo" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d '{"compose": {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]}}}}' || true
  echo "==> schemathesis as $user, identity from $name"
  schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" \
    --exclude-path-regex '^/v1/(logout|users/)' \
    --workers 1 --seed 1 "${extra[@]}" || { echo "gateway log:"; tail -40 "$tmp/$name/gateway.log"; status=1; }
  # Last, the routes that revoke tokens: logout revokes the very token schemathesis sends, so every
  # answer after it is a (documented) 401 and would starve the run above.
  schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" \
    --include-path-regex '^/v1/(logout|users/)' \
    --workers 1 --seed 1 "${extra[@]}" || { echo "gateway log:"; tail -40 "$tmp/$name/gateway.log"; status=1; }
}
extra=("$@")

# An administrator first (every route open), then a member who is refused the admin routes and
# the administrator's project: each answer, 403s included, must match the document.
start_gateway users-file --users examples/users.yaml
run users-file "$port" carol
start_gateway ldap --identity ldap --ldap-config "$tmp/ldap.yaml"
run ldap "$port" alice
exit $status
