#!/usr/bin/env bash
# Issues 7 and 18's benchmarks in one command: installs what they need (idempotent), then prints the figures
# with their targets and writes them to benchmarks/results/latest.txt.
#   bash benchmarks/run.sh [--quick] [--client wrk|httpx] [--policy-dir DIR] [--no-save] [--only 7|18]
#                          [--kubeconfig PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/install.sh
# wrk (Debian) is the load client: C, far lighter than a Python client on cores it shares with the gateway.
if ! command -v wrk >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
# py-spy (PyPI): the sampling profiler docs/performance.md uses on the live gateway.
.venv/bin/python -c "import shutil, sys; sys.exit(0 if shutil.which('py-spy', path='.venv/bin') else 1)" \
  || .venv/bin/pip install -q py-spy 2>&1 | grep -v 'is ignored' || true
# Issue 18's references: docker-compose and opa from their Go modules, hyperfine from Debian (once, cached).
bash benchmarks/setup.sh >&2 || echo "benchmarks/setup.sh failed: the figures that need its tools print n/a" >&2
exec .venv/bin/python benchmarks/run.py "$@"
