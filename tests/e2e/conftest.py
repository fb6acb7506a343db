"""A live gateway process (uvicorn, podman backend) and the spin CLI, as a user runs them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SPIN = [sys.executable, "-m", "spin_gateway.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def podman_ready():
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run scripts/install.sh")
    subprocess.run(["bash", str(ROOT / "scripts/build-image.sh")], check=True)


class LiveGateway:
    def __init__(self, tmp: Path, backend: str = "podman"):
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = tmp / "state"
        self.audit_log = self.state / "audit.log"
        self.log = open(tmp / "gateway.log", "w")
        self.proc = subprocess.Popen(
            [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", backend,
             "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
             "--audit-log", str(self.audit_log), "--state-dir", str(self.state),
             "--manifests-dir", str(tmp / "manifests")],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"gateway did not start: {(tmp / 'gateway.log').read_text()[-2000:]}")

    def token(self, user: str) -> str:
        out = subprocess.run([*SPIN, "gateway", "token", "--user", user, "--state-dir", str(self.state)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def spin(self, *args: str, user: str = "alice", env: dict | None = None, cwd: Path | None = None):
        environ = {**os.environ, "SPIN_GATEWAY": self.url, "SPIN_TOKEN": self.token(user),
                   "XDG_CONFIG_HOME": str(self.tmp / "config"), **(env or {})}
        return subprocess.run([*SPIN, *args], cwd=cwd or ROOT, env=environ, capture_output=True, text=True,
                              timeout=300)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def gateway(tmp_path, podman_ready):
    live = LiveGateway(tmp_path)
    yield live
    live.stop()
