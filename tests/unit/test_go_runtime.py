"""`spin gateway serve` runs the embedded OPA engine with Go's GC settings from docs/performance.md,
unless the operator chose their own: what the running process's environment holds is what Go read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_and_read_environ(tmp_path: Path, extra_env: dict[str, str]) -> dict[str, str]:
    """Start a gateway, wait until it answers, and return the environment of the process that answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT")}
    env.update(extra_env)
    log = open(tmp_path / "gateway.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spin_gateway.cli.main", "gateway", "serve", "--backend", "manifests", "--port", str(port),
         "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
         "--state-dir", str(tmp_path / "state"), "--audit-log", str(tmp_path / "state/audit.log"),
         "--manifests-dir", str(tmp_path / "manifests")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gateway did not start: {(tmp_path / 'gateway.log').read_text()[-2000:]}")
            time.sleep(0.2)
        raw = Path(f"/proc/{proc.pid}/environ").read_bytes()
        environ = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"serve" in cmdline  # the pid we started answers: the gateway started itself again in place
        return environ
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_gateway_runs_with_fewer_go_collections_and_a_memory_cap(tmp_path):
    environ = _serve_and_read_environ(tmp_path, {})
    assert environ.get("GOGC") == "400"
    assert environ.get("GOMEMLIMIT") == "64MiB"


def test_an_operators_own_go_setting_is_kept(tmp_path):
    environ = _serve_and_read_environ(tmp_path, {"GOGC": "150"})
    assert environ.get("GOGC") == "150"
    assert "GOMEMLIMIT" not in environ
