"""How long `spin down` takes on podman: a project of N services whose processes ignore SIGTERM (as `sleep` as
PID 1 does), so every pod waits out its 10 s grace period, as compose's do.

    flock /work/locks/podman.lock .venv/bin/python benchmarks/down.py [--services 3] [--rounds 2]

Prints each round's up and down time with the load average; asserts nothing. The gateway runs in-process
(the real app, podman backend) with its state in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from spin_gateway.gateway_api.app import build_app
    from spin_gateway.gateway_api.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        app = build_app(Settings(backend="podman", users=ROOT / "examples/users.yaml", policy_dir=ROOT / "rego",
                                 audit_log=t / "audit.log", state_dir=t / "state", manifests_dir=t / "manifests",
                                 policy_poll_seconds=0))
        token, _ = app.state.signer.issue("alice")
        headers = {"authorization": f"Bearer {token}"}
        model = {"name": "bench", "services": {
            f"s{i}": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "600"]}
            for i in range(args.services)}}
        with TestClient(app) as client:
            for round_ in range(args.rounds):
                project = f"bench-down-{uuid.uuid4().hex[:6]}"
                start = time.perf_counter()
                r = client.put(f"/v1/projects/{project}", params={"wait": True, "timeout": 120},
                               json={"compose": model}, headers=headers)
                up = time.perf_counter() - start
                if r.status_code != 200:
                    print(f"up failed: HTTP {r.status_code} {r.text[:300]}")
                    return
                start = time.perf_counter()
                r = client.delete(f"/v1/projects/{project}", headers=headers)
                down = time.perf_counter() - start
                again = client.delete(f"/v1/projects/{project}", headers=headers)
                load = os.getloadavg()
                print(f"round {round_ + 1}: {args.services} services  up --wait {up:5.1f} s  down {down:5.1f} s "
                      f"(HTTP {r.status_code})  second down HTTP {again.status_code}  "
                      f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
