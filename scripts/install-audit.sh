#!/usr/bin/env bash
# What the audit fault tests (tests/faults/) need beyond scripts/install.sh:
# `mount`/`umount` for a real 64 KiB tmpfs to fill, and `chattr` (e2fsprogs)
# to make a log file immutable while the gateway holds it open. Both are in a
# stock Debian 12; this makes sure. Idempotent.
set -euo pipefail
missing=()
command -v mount >/dev/null 2>&1 || missing+=(mount)
command -v chattr >/dev/null 2>&1 || missing+=(e2fsprogs)
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
