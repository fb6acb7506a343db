#!/bin/sh
# Batch-job prologue: start the job's service through the spin gateway, acting
# for the job's user with a scoped service token (never a password), and wait
# until it runs. Idempotent: running it again reports "unchanged".
#
#   SPIN_GATEWAY       gateway URL, e.g. https://spin.facility.example
#   SPIN_TOKEN_FILE    file holding the service token (`spin token create`), mode 0600
#   SPIN_COMPOSE_JSON  the service's canonical compose model (`spin config --format json`)
#   SLURM_JOB_ID, SLURM_JOB_USER   set by the batch system
# Exit status: 0 running, 1 refused by policy, 2 bad input, 3 gateway or backend unavailable.
set -eu
: "${SPIN_GATEWAY:?set SPIN_GATEWAY}" "${SLURM_JOB_ID:?}" "${SLURM_JOB_USER:?}"
token_file=${SPIN_TOKEN_FILE:-/etc/spin/prologue.token}
compose=${SPIN_COMPOSE_JSON:-$(dirname "$0")/service.json}
project="job-${SLURM_JOB_ID}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The token goes in a header file, so it never shows in `ps`.
umask 077
printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" > "$tmp/headers"
printf '{"compose": %s}' "$(cat "$compose")" > "$tmp/body"

code=$(curl -sS -o "$tmp/answer" -w '%{http_code}' -X PUT \
  "$SPIN_GATEWAY/v1/projects/$project?wait=true&timeout=${SPIN_WAIT_TIMEOUT:-120}" \
  -H @"$tmp/headers" -H "X-Spin-User: $SLURM_JOB_USER" -H 'Content-Type: application/json' \
  --data-binary @"$tmp/body") || { echo "spin prologue: gateway unreachable" >&2; exit 3; }

cat "$tmp/answer"; echo
case "$code" in
  2??) exit 0 ;;
  403) exit 1 ;;
  4??) exit 2 ;;
  502|504) exit 4 ;;  # the service did not become ready (the answer says why): docs/researcher.md "Exit codes"
  *)   exit 3 ;;
esac
