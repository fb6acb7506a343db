"""`--audit-stdout`: the facility's log pipeline gets every record, byte for byte the line in the file."""

from __future__ import annotations

import subprocess
import time

import httpx

from spin_gateway.audit.verify import verify
from tests.e2e.conftest import ROOT, SPIN, free_port

COMPOSE = {"name": "sink", "services": {"web": {"image": "localhost/spin/busybox:1.35",
                                                "command": ["httpd", "-f", "-p", "8080"]}}}


def test_the_stdout_sink_carries_the_same_lines_as_the_log_and_they_verify(tmp_path):
    port, state = free_port(), tmp_path / "state"
    proc = subprocess.Popen(
        [*SPIN, "gateway", "serve", "--port", str(port), "--backend", "manifests", "--audit-stdout",
         "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
         "--audit-log", str(state / "audit.log"), "--state-dir", str(state), "--manifests-dir", str(tmp_path / "m")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        token = subprocess.run([*SPIN, "gateway", "token", "--user", "alice", "--state-dir", str(state)],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        auth = {"authorization": f"Bearer {token}"}
        assert httpx.post(f"{url}/v1/projects/sink/check", json={"compose": COMPOSE}, headers=auth, timeout=30).status_code == 200
        assert httpx.put(f"{url}/v1/projects/sink", json={"compose": COMPOSE}, headers=auth, timeout=30).status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    logged = (state / "audit.log").read_bytes()
    assert logged and out == logged
    # the pipeline's copy verifies on its own, with the gateway's key
    copy = tmp_path / "pipeline" / "audit.log"
    copy.parent.mkdir()
    copy.write_bytes(out)
    (copy.parent / "audit.log.head").write_bytes((state / "audit.log.head").read_bytes())
    assert verify(copy, key=(state / "audit.key").read_bytes().strip()).ok
