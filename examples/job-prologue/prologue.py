#!/usr/bin/env python3
"""Batch-job prologue in Python, standard library only (compute nodes have no extra packages).

Starts the job's service through the spin gateway for the job's user with a
scoped service token, waits until it runs, prints the gateway's JSON answer.
`--down` is the epilogue. Environment as in prologue.sh.
Exit status: 0 done, 1 refused by policy, 2 bad input, 3 gateway or backend unavailable.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    gateway = os.environ["SPIN_GATEWAY"].rstrip("/")
    with open(os.environ.get("SPIN_TOKEN_FILE", "/etc/spin/prologue.token")) as fh:
        token = fh.read().strip()
    project = f"job-{os.environ['SLURM_JOB_ID']}"
    headers = {"Authorization": f"Bearer {token}", "X-Spin-User": os.environ["SLURM_JOB_USER"],
               "Content-Type": "application/json"}
    if "--down" in argv:
        request = urllib.request.Request(f"{gateway}/v1/projects/{project}?volumes=true", method="DELETE",
                                         headers=headers)
    else:
        compose_path = os.environ.get("SPIN_COMPOSE_JSON", os.path.join(os.path.dirname(__file__), "service.json"))
        with open(compose_path) as fh:
            body = json.dumps({"compose": json.load(fh)}).encode()
        timeout = os.environ.get("SPIN_WAIT_TIMEOUT", "120")
        request = urllib.request.Request(f"{gateway}/v1/projects/{project}?wait=true&timeout={timeout}",
                                         data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=float(os.environ.get("SPIN_HTTP_TIMEOUT", "300"))) as answer:
            print(answer.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(), file=sys.stderr)
        if exc.code == 404 and "--down" in argv:
            return 0
        return 1 if exc.code == 403 else 2 if exc.code < 500 else 3
    except (urllib.error.URLError, OSError) as exc:
        print(f"spin prologue: gateway unreachable: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
