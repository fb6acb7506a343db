#!/usr/bin/env bash
# Quickstart, command 1: install, start the gateway on 127.0.0.1 with the
# embedded defaults (embedded OPA engine, podman backend, the example users
# file, audit log in ./state), `spin up --wait` the example science gateway as
# the demo user alice, print where the portal answers and the audit records.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/install.sh
. .venv/bin/activate

STATE=${SPIN_STATE:-$ROOT/state}
PORT=${SPIN_PORT:-8470}
mkdir -p "$STATE"
export SPIN_GATEWAY="http://127.0.0.1:$PORT"

if ! curl -fsS "$SPIN_GATEWAY/healthz" >/dev/null 2>&1; then
  echo "==> starting the gateway on $SPIN_GATEWAY (log: $STATE/gateway.log)"
  nohup spin gateway serve --host 127.0.0.1 --port "$PORT" --backend podman \
    --users examples/users.yaml --policy-dir rego --audit-log "$STATE/audit.log" --state-dir "$STATE" \
    >"$STATE/gateway.log" 2>&1 &
  echo $! > "$STATE/gateway.pid"
  for _ in $(seq 1 100); do curl -fsS "$SPIN_GATEWAY/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS "$SPIN_GATEWAY/readyz" >/dev/null || { echo "the gateway did not start:"; tail -20 "$STATE/gateway.log"; exit 3; }
fi

# The demo user. A facility would use `spin login` against LDAP; here the
# gateway's own key mints a short-lived token for alice.
SPIN_TOKEN=$(spin gateway token --user alice --state-dir "$STATE" --ttl 3600)
export SPIN_TOKEN

# The portal's pages live on the project's global file system, as at a facility.
PORTAL_DIR=/global/cfs/projects/astro/science-gateway/portal
mkdir -p "$PORTAL_DIR"
cp -r examples/science-gateway/portal/. "$PORTAL_DIR/"
chmod -R a+rX /global
export PORTAL_DIR
# The worker writes its results there too. Mounting the global file system makes the
# site's uid-mapping rule run it as alice (uid 1001) with her project group astro (gid
# 5001), so the folder is the project's: group astro, group-writable, setgid.
RESULTS_DIR=/global/cfs/projects/astro/science-gateway/results
mkdir -p "$RESULTS_DIR"
chown 1001:5001 "$RESULTS_DIR" 2>/dev/null || true
chmod 2775 "$RESULTS_DIR"
export RESULTS_DIR

before=$(wc -l < "$STATE/audit.log" 2>/dev/null || echo 0)
echo "==> spin up --wait (as alice)"
spin -f examples/science-gateway/compose.yaml up --wait --timeout 90
echo
echo "==> spin ps"
spin -f examples/science-gateway/compose.yaml ps
echo
url="http://127.0.0.1:${PORTAL_PORT:-18080}/"
echo "==> the portal answers at $url:"
curl -fsS "$url" | sed -n 's:.*<h1>\(.*\)</h1>.*:  \1:p'
echo
echo "==> audit records of this run ($STATE/audit.log):"
tail -n +"$((before + 1))" "$STATE/audit.log" > "$STATE/.run.log"
spin audit --log "$STATE/.run.log"
rm -f "$STATE/.run.log"
echo
spin audit verify --log "$STATE/audit.log"
echo
echo "The gateway keeps running (pid $(cat "$STATE/gateway.pid" 2>/dev/null || echo '?')). Try:"
echo "  . .venv/bin/activate; export SPIN_GATEWAY=$SPIN_GATEWAY SPIN_TOKEN=\$(spin gateway token --user alice --state-dir $STATE)"
echo "  spin -f examples/science-gateway/compose.yaml logs worker --tail 5"
echo "  spin -f examples/science-gateway/compose.yaml down"
