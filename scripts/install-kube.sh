#!/usr/bin/env bash
# Builds and installs what the cluster tests run: a one-node Kubernetes that runs pods.
#
# From their own Go modules (scripts/go/<name>/go.mod pins each release; go.sum checks it):
#   Kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#   kube-proxy, kubectl), etcd, CoreDNS (cluster DNS: compose services find each
#   other by name) and the real `opa` binary.
# From Debian: containerd (1.6 serves CRI v1, which kubelet 1.34 needs), runc,
# the CNI plugins, iptables/conntrack, gcc for the pause binary.
# The pause image: Kubernetes' own build/pause/linux/pause.c (from the module
# cache), compiled statically and packed as an OCI archive for `ctr images import`.
#
# Everything goes into $SPIN_KUBE_CACHE (default /var/cache/spin-kube), one folder
# per component and version (kube-v1.34.4/, etcd-v3.6.16/, ...); a folder that is
# there is not built again. $CACHE/bin links to the current versions; build logs
# and the seconds each build took are in $CACHE/logs and <folder>/build-seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE=${SPIN_KUBE_CACHE:-/var/cache/spin-kube}
# The versions are those the build modules require; read from there so they cannot disagree.
modver() { awk -v m="$2" '$1=="require" && $2==m {print $3} $1==m && /^\t/ {print $2}' "$ROOT/scripts/go/$1/go.mod" | head -n1; }
KUBE_VERSION=$(modver kube k8s.io/kubernetes)
ETCD_VERSION=$(modver etcd go.etcd.io/etcd/server/v3)
COREDNS_VERSION=$(modver coredns github.com/coredns/coredns)
OPA_VERSION=$(modver opa github.com/open-policy-agent/opa)
# The pause version kubelet 1.34 expects as sandbox image (build/pause/Makefile's TAG).
PAUSE_TAG=3.10.1

log() { printf '==> [kube] %s\n' "$*" >&2; }
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }

mkdir -p "$CACHE/logs"

# --- Debian packages ---------------------------------------------------------
need=(containerd runc containernetworking-plugins iptables conntrack socat openssl gcc libc6-dev)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  # containerd's package would start a system containerd; the tests start their own
  # with its own socket and state. policy-rc.d keeps it from starting at install.
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

# --- Go builds ---------------------------------------------------------------
# Two cores shared with other work: one Go build at a time, two compile jobs.
export GOMAXPROCS=${GOMAXPROCS:-2} GOTOOLCHAIN=local CGO_ENABLED=0
command -v go >/dev/null || { log "go is not installed (the machine's Go toolchain builds these)"; exit 1; }

# build NAME VERSION LDFLAGS PACKAGE... : go build into $CACHE/NAME-VERSION/bin unless there.
build() {
  local name=$1 version=$2 ldflags=$3; shift 3
  local dest=$CACHE/$name-$version
  if [ -f "$dest/complete" ]; then
    log "$name $version cached in $dest/bin"
    return 0
  fi
  log "building $name $version (log: $CACHE/logs/$name-$version.log)"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/bin"
  local start=$(date +%s)
  if ! (cd "$ROOT/scripts/go/$name" && go build -p 2 -trimpath -tags=notest,grpcnotrace -ldflags="$ldflags" \
          -o "$dest.tmp/bin/" "$@") >"$CACHE/logs/$name-$version.log" 2>&1; then
    tail -n 30 "$CACHE/logs/$name-$version.log" >&2
    log "$name build failed, full log: $CACHE/logs/$name-$version.log"
    exit 1
  fi
  echo $(( $(date +%s) - start )) > "$dest.tmp/build-seconds"
  touch "$dest.tmp/complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  log "$name $version built in $(cat "$dest/build-seconds")s"
}

# The version stamp `make` would set from git (kubectl version, the node's kubeletVersion).
kube_ld="-s -w"
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
build kube "$KUBE_VERSION" "$kube_ld" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
  k8s.io/kubernetes/cmd/kubectl
build etcd "$ETCD_VERSION" "-s -w" go.etcd.io/etcd/server/v3
# go names the binary of go.etcd.io/etcd/server/v3 after its path ("server").
[ -e "$CACHE/etcd-$ETCD_VERSION/bin/etcd" ] || mv "$CACHE/etcd-$ETCD_VERSION/bin/server" "$CACHE/etcd-$ETCD_VERSION/bin/etcd"
build coredns "$COREDNS_VERSION" "-s -w" github.com/coredns/coredns
build opa "$OPA_VERSION" "-s -w" \
  github.com/open-policy-agent/opa

# --- the pause image ---------------------------------------------------------
PAUSE_DIR=$CACHE/pause-$PAUSE_TAG-$KUBE_VERSION
if [ ! -f "$PAUSE_DIR/complete" ]; then
  log "building the pause image from k8s.io/kubernetes@$KUBE_VERSION build/pause/linux/pause.c"
  src=$(cd "$ROOT/scripts/go/kube" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
  rm -rf "$PAUSE_DIR.tmp" && mkdir -p "$PAUSE_DIR.tmp"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-spin" -o "$PAUSE_DIR.tmp/pause" "$src"
  strip "$PAUSE_DIR.tmp/pause"
  python3 "$ROOT/scripts/oci_archive.py" --binary "$PAUSE_DIR.tmp/pause" --entrypoint /pause \
    --name "registry.k8s.io/pause:$PAUSE_TAG" --user 65535:65535 --out "$PAUSE_DIR.tmp/pause.tar"
  touch "$PAUSE_DIR.tmp/complete"
  rm -rf "$PAUSE_DIR" && mv "$PAUSE_DIR.tmp" "$PAUSE_DIR"
fi

# --- the CoreDNS image: its static binary alone, as the cluster's DNS pod runs it ---
COREDNS_IMAGE_TAR=$CACHE/coredns-$COREDNS_VERSION/coredns.tar
if [ ! -f "$COREDNS_IMAGE_TAR" ]; then
  python3 "$ROOT/scripts/oci_archive.py" --binary "$CACHE/coredns-$COREDNS_VERSION/bin/coredns" --entrypoint /coredns \
    --name "localhost/spin-kube/coredns:cluster" --out "$COREDNS_IMAGE_TAR.tmp"
  mv "$COREDNS_IMAGE_TAR.tmp" "$COREDNS_IMAGE_TAR"
fi

# --- the current set ---------------------------------------------------------
rm -rf "$CACHE/bin.tmp" && mkdir -p "$CACHE/bin.tmp"
for f in "$CACHE/kube-$KUBE_VERSION"/bin/* "$CACHE/etcd-$ETCD_VERSION/bin/etcd" \
         "$CACHE/coredns-$COREDNS_VERSION/bin/coredns" "$CACHE/opa-$OPA_VERSION/bin/opa"; do
  ln -s "$f" "$CACHE/bin.tmp/$(basename "$f")"
done
ln -s "$PAUSE_DIR/pause.tar" "$CACHE/bin.tmp/pause.tar"
ln -s "$COREDNS_IMAGE_TAR" "$CACHE/bin.tmp/coredns.tar"
rm -rf "$CACHE/bin" && mv "$CACHE/bin.tmp" "$CACHE/bin"
cat > "$CACHE/versions" <<EOF
kubernetes $KUBE_VERSION
etcd $ETCD_VERSION
coredns $COREDNS_VERSION
opa $OPA_VERSION
pause $PAUSE_TAG
containerd $(containerd --version | awk '{print $3}')
runc $(runc --version | awk 'NR==1{print $3}')
cni-plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins)
EOF
log "ready in $CACHE/bin: $(tr '\n' ' ' < "$CACHE/versions")"
