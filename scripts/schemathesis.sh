#!/usr/bin/env bash
# schemathesis against the live gateway's OpenAPI document, authenticated, over
# every route: no 5xx, no response that breaks its schema. Manifests backend,
# so generated projects land in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
tmp=$(mktemp -d)
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
spin gateway serve --port "$port" --backend manifests --manifests-dir "$tmp/manifests" \
  --users examples/users.yaml --policy-dir rego --audit-log "$tmp/audit.log" --state-dir "$tmp/state" \
  >"$tmp/gateway.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
# An administrator first (every route open), then a member who is refused the admin routes and
# the administrator's project: each answer, 403s included, must match the document.
status=0
for user in ${SCHEMATHESIS_USERS:-carol alice}; do
  token=$(spin gateway token --user "$user" --state-dir "$tmp/state")
  # A project named as the OpenAPI examples name it, so status, logs and down meet one that exists.
  curl -sS -o /dev/null -X PUT "http://127.0.0.1:$port/v1/projects/demo" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d '{"compose": {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]}}}}' || true
  echo "==> schemathesis as $user"
  schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" \
    --workers 1 --seed 1 "$@" || { echo "gateway log:"; tail -40 "$tmp/gateway.log"; status=1; }
done
exit $status
