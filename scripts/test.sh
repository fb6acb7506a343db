#!/usr/bin/env bash
# Quickstart, command 2: install everything the tests need and run the whole
# suite: the Rego unit tests, pytest (unit, API, podman end to end, real slapd,
# a one-node Kubernetes that runs pods, the real opa), and schemathesis against the live gateway.
# install-kube.sh builds Kubernetes, etcd, CoreDNS and opa from their Go modules: about 35 min on
# a fresh 2-core machine shared with other work, about 1 s once cached (docs/kubernetes.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
for extra in scripts/install-*.sh; do [ -f "$extra" ] && bash "$extra"; done

status=0
echo "==> house rules: ruff, import directions, mypy (scripts/lint.sh)"
bash scripts/lint.sh || status=1

echo "==> Rego unit tests (spin policy test)"
spin policy test --policy-dir rego || status=1

echo "==> pytest"
python -m pytest -p no:cacheprovider "$@" || status=1

if [ -f scripts/schemathesis.sh ]; then
  echo "==> schemathesis against the live gateway"
  bash scripts/schemathesis.sh || status=1
fi
exit $status
