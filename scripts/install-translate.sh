#!/usr/bin/env bash
# What the translator's podman end-to-end test needs beyond scripts/install.sh:
# Debian 12's podman uses the CNI network backend, which resolves service names
# (the worker reaches the portal as `portal`) only with the dnsname plugin.
# Without it every project network is created with dns_enabled=false.
# kubernetes-validate (the OpenAPI check of what `spin convert` emits) comes from
# pyproject.toml's test extra. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s golang-github-containernetworking-plugin-dnsname >/dev/null 2>&1; then
  echo "==> installing the CNI dnsname plugin (service names resolve inside podman networks)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends golang-github-containernetworking-plugin-dnsname >/dev/null
fi
