#!/usr/bin/env bash
# Builds the real Kubernetes control plane the cluster tests run against
# (kube-apiserver, kube-controller-manager, kube-scheduler) from Debian's
# `kubernetes` source package, and installs etcd. No registry ships these
# binaries; Debian's source holds the whole upstream tree with vendor/, so it
# builds offline with Debian's Go 1.19 (the toolchain Debian built it with).
#
# Idempotent: the source and the binaries are cached in $SPIN_KUBE_CACHE
# (outside the checkout, so a second run on the same machine skips the build).
# Prints where the binaries are and how long the build took.
set -euo pipefail

CACHE=${SPIN_KUBE_CACHE:-/var/cache/spin-kube}
KUBE_VERSION=${SPIN_KUBE_DEB_VERSION:-1.20.5+really1.20.2}
BIN=$CACHE/bin
WANT=(kube-apiserver kube-controller-manager kube-scheduler)

log() { printf '==> [kube] %s\n' "$*" >&2; }
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }

have_bins() {
  local b
  for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

mkdir -p "$CACHE"

# Debian packages: the Go toolchain for the build, etcd for the tests, the
# tools `apt-get source` needs to unpack and patch the source.
need=(etcd-server dpkg-dev openssl)
have_bins || need+=(golang-1.19-go make rsync)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  # etcd-server's package would start a system etcd; the tests start their own on
  # free loopback ports. policy-rc.d keeps it from starting at install, so nothing
  # has to be stopped later (stopping "etcd" by name would kill the tests' own).
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  made_policy=
fi

if have_bins; then
  log "control plane binaries cached in $BIN ($("$BIN/kube-apiserver" --version 2>/dev/null))"
  exit 0
fi

# The source package comes from bookworm's deb-src; this machine's sources
# are in deb822 form (/etc/apt/sources.list.d/*.sources) with deb lines only.
SRC_LIST=/etc/apt/sources.list.d/spin-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src .* bookworm ' /etc/apt/sources.list; then
  log "adding a deb-src entry for bookworm ($SRC_LIST)"
  cat > "$SRC_LIST" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_get update -qq
fi

SRCDIR=$CACHE/src
tree=$(ls -d "$SRCDIR"/kubernetes-*/ 2>/dev/null | head -n1 || true)
if [ -z "$tree" ] || [ ! -d "$tree/vendor" ]; then
  log "fetching the kubernetes $KUBE_VERSION source package into $SRCDIR"
  rm -rf "$SRCDIR" && mkdir -p "$SRCDIR"
  # apt drops to the _apt user for downloads; it must be able to write here.
  chown _apt "$SRCDIR" 2>/dev/null || true
  # dpkg-source -x (run by apt-get source) applies Debian's patches.
  # bookworm carries exactly one revision of it (1.20.5+really1.20.2-1.1+deb12u1
  # today); refuse anything that is not that upstream version.
  ver=$(apt-cache showsrc kubernetes | awk '/^Version:/{print $2; exit}')
  case "$ver" in "$KUBE_VERSION"-*) ;; *) log "bookworm offers kubernetes source '$ver', expected $KUBE_VERSION-*"; exit 1;; esac
  (cd "$SRCDIR" && apt_get source -qq "kubernetes=$ver" >/dev/null)
  tree=$(ls -d "$SRCDIR"/kubernetes-*/ | head -n1)
fi
tree=${tree%/}

log "building ${WANT[*]} in $tree (a few minutes on 2 cores)"
start=$(date +%s)
(
  cd "$tree"
  export PATH=/usr/lib/go-1.19/bin:$PATH
  # Offline: every module comes from vendor/, nothing from a proxy.
  export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
  # The tarball has no .git, so the version stamp comes from here.
  export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean
  # Two cores shared with other work: one Go build at a time keeps memory in bounds.
  export GOMAXPROCS=${GOMAXPROCS:-2}
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler"
) >"$CACHE/build.log" 2>&1 || { tail -n 40 "$CACHE/build.log" >&2; log "build failed, full log: $CACHE/build.log"; exit 1; }
secs=$(( $(date +%s) - start ))

mkdir -p "$BIN.tmp"
for b in "${WANT[@]}"; do
  found=$(find "$tree/_output" -type f -name "$b" -perm -u+x | head -n1)
  [ -n "$found" ] || { log "build produced no $b"; exit 1; }
  cp "$found" "$BIN.tmp/$b"
done
rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
echo "$secs" > "$CACHE/build-seconds"
log "control plane built in ${secs}s, binaries in $BIN ($("$BIN/kube-apiserver" --version))"
