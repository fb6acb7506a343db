#!/usr/bin/env bash
# Installs what spin needs on a fresh Debian (bookworm) machine, as root:
# Debian packages, a virtualenv in .venv with the Python dependencies, the
# container configuration podman needs on these machines, and the local
# busybox image the examples use. Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '==> %s\n' "$*" >&2; }

# golang-github-containernetworking-plugin-dnsname: Debian 12's podman networks (CNI) resolve service
# names (the worker reaches `portal`) only with it; without it every network has DNS off.
need_pkgs=(podman runc catatonit golang-github-containernetworking-plugin-dnsname busybox-static slapd ldap-utils python3-venv curl)
missing=()
for p in "${need_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# slapd's package starts a system daemon we do not use: the tests and the
# gateway start their own slapd on a loopback port.
# Only the package's own daemon, by its pid file: `service slapd stop` without one matches every
# slapd by name, the tests' own included.
systemctl disable --now slapd >/dev/null 2>&1 || { [ -s /var/run/slapd/slapd.pid ] && service slapd stop >/dev/null 2>&1; } || true

# On these machines podman needs runc, cgroupfs and lower default ulimits.
if ! grep -q 'cgroup_manager = "cgroupfs"' /etc/containers/containers.conf 2>/dev/null; then
  log "writing /etc/containers/containers.conf"
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
log "installing Python dependencies"
pip install -q -e ".[test]" 2>&1 | grep -v 'is ignored' || true
# OPA's own Go engine as a shared library. Its wheel declares Python >= 3.14
# but is pure ctypes over a Go .so and runs on 3.11 (see docs/policy-engine.md).
pip install -q --ignore-requires-python "opa-golib-python-bindings==0.4.4" 2>&1 | grep -v 'is ignored' || true
python -c "import opa_bindings, fastapi, kubernetes, ldap3" || { log "Python dependencies failed to install"; exit 1; }

# The policy folder decides what runs: root's, writable by its owner only (the gateway refuses a
# .rego file or folder anyone may write). -h: a link inside is changed, never what it points to.
if [ "$(id -u)" = 0 ]; then chown -hR root:root rego; fi
find rego -type d -exec chmod 0755 {} +
find rego -type f -exec chmod 0644 {} +

bash scripts/build-image.sh
log "installed"
