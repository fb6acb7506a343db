#!/bin/sh
# Batch-job epilogue: remove the job's service (and its volumes). A project
# that is already gone is fine: epilogues run again after node failures.
set -eu
: "${SPIN_GATEWAY:?set SPIN_GATEWAY}" "${SLURM_JOB_ID:?}" "${SLURM_JOB_USER:?}"
token_file=${SPIN_TOKEN_FILE:-/etc/spin/prologue.token}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
umask 077
printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" > "$tmp/headers"
code=$(curl -sS -o "$tmp/answer" -w '%{http_code}' -X DELETE \
  "$SPIN_GATEWAY/v1/projects/job-${SLURM_JOB_ID}?volumes=true" \
  -H @"$tmp/headers" -H "X-Spin-User: $SLURM_JOB_USER") || { echo "spin epilogue: gateway unreachable" >&2; exit 3; }
cat "$tmp/answer"; echo
case "$code" in
  2??|404) exit 0 ;;
  403) exit 1 ;;
  4??) exit 2 ;;
  *)   exit 3 ;;
esac
