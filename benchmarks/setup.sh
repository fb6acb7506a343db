#!/usr/bin/env bash
# What the issue-18 figures compare against, built from their own Go modules (not CI's test path):
#   docker-compose  github.com/docker/compose/v5/cmd, pinned by scripts/go/compose/go.mod (go.sum checks it),
#                   the reference for `spin config` wall time;
#   opa             the real `opa` binary scripts/install-kube.sh builds (opa bench: the floor for one decision);
#   hyperfine       Debian's, to time the two CLIs side by side.
# Each goes into $SPIN_BENCH_CACHE (default /var/cache/spin-bench) once; a second run takes a second.
#   bash benchmarks/setup.sh      prints the paths it found or built
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${SPIN_BENCH_CACHE:-/var/cache/spin-bench}
KUBE_CACHE=${SPIN_KUBE_CACHE:-/var/cache/spin-kube}
log() { printf '==> [bench] %s\n' "$*" >&2; }
modver() { awk -v m="$2" '$1=="require" && $2==m {print $3} $1==m && /^\t/ {print $2}' "$ROOT/scripts/go/$1/go.mod" | head -n1; }
mkdir -p "$CACHE/logs"

if ! command -v hyperfine >/dev/null 2>&1; then
  log "installing hyperfine (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends hyperfine >/dev/null \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine >/dev/null; }
fi

COMPOSE_VERSION=$(modver compose github.com/docker/compose/v5)
dest=$CACHE/compose-$COMPOSE_VERSION
if [ ! -f "$dest/complete" ]; then
  command -v go >/dev/null || { log "go is not installed (the machine's Go toolchain builds docker-compose)"; exit 1; }
  log "building docker-compose $COMPOSE_VERSION (log: $CACHE/logs/compose-$COMPOSE_VERSION.log; several minutes on 2 cores)"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/bin"
  start=$(date +%s)
  # The version stamp its own Makefile sets, so `docker-compose version` names the release.
  if ! (cd scripts/go/compose && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOMAXPROCS=${GOMAXPROCS:-2} CGO_ENABLED=0 \
        go build -p 2 -trimpath -ldflags="-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
        -o "$dest.tmp/bin/docker-compose" github.com/docker/compose/v5/cmd) >"$CACHE/logs/compose-$COMPOSE_VERSION.log" 2>&1; then
    tail -n 30 "$CACHE/logs/compose-$COMPOSE_VERSION.log" >&2
    log "docker-compose build failed"
    exit 1
  fi
  echo $(( $(date +%s) - start )) > "$dest.tmp/build-seconds"
  touch "$dest.tmp/complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  log "docker-compose $COMPOSE_VERSION built in $(cat "$dest/build-seconds")s"
fi
echo "docker-compose $dest/bin/docker-compose"

# opa: install-kube.sh's build (the cluster tests use the same binary); built here only if it is missing.
if [ ! -x "$KUBE_CACHE/bin/opa" ]; then
  log "the opa binary is missing from $KUBE_CACHE/bin: building it with scripts/install-kube.sh"
  bash scripts/install-kube.sh
fi
echo "opa $KUBE_CACHE/bin/opa"
echo "hyperfine $(command -v hyperfine)"
