#!/usr/bin/env bash
# What the LDAP tests need: Debian's slapd and ldap-utils (the tests start their
# own slapd on a loopback port; the system one stays off). Idempotent; run as root
# by scripts/test.sh. scripts/install.sh installs the same packages; this script
# makes sure of them, so the LDAP tests fail loudly rather than skip.
set -euo pipefail
missing=()
for p in slapd ldap-utils; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Only the package's own daemon, by its pid file: `service slapd stop` without one matches every
# slapd by name, the tests' own included.
systemctl disable --now slapd >/dev/null 2>&1 || { [ -s /var/run/slapd/slapd.pid ] && service slapd stop >/dev/null 2>&1; } || true
# An AppArmor profile (if the distribution ships one) would stop slapd reading the tests'
# temp folders: disable it the Debian way (a link in disable/, then unload it).
profile=/etc/apparmor.d/usr.sbin.slapd
if [ -e "$profile" ] && [ -d /sys/kernel/security/apparmor ] && command -v apparmor_parser >/dev/null 2>&1; then
  mkdir -p /etc/apparmor.d/disable
  ln -sf "$profile" /etc/apparmor.d/disable/
  apparmor_parser -R "$profile" >/dev/null 2>&1 || true
fi
for tool in /usr/sbin/slapd /usr/sbin/slapadd /usr/sbin/slaptest /usr/lib/ldap/back_mdb.la; do
  [ -e "$tool" ] || { echo "install-ldap: $tool is missing after installing slapd" >&2; exit 1; }
done
