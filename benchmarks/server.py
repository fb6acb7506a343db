"""Start a real gateway process (manifests backend, loopback, temp state) and read its memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def wait_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Until the gateway at url answers /healthz; RuntimeError with its log's tail if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gateway did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)


def rss_mb(pid: int) -> dict[int, float]:
    """VmRSS of a process and of its children (uvicorn workers), in MB."""
    out = {}
    for p in [pid, *_children(pid)]:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    out[p] = int(line.split()[1]) / 1024
        except OSError:
            pass
    return out


@contextmanager
def gateway(workers: int = 1, startup_timeout: float = 60.0,
            policy_dir: Path = ROOT / "rego", env: dict[str, str] | None = None,
            backend_args: list[str] | None = None):
    """backend_args: e.g. ["--backend", "kubernetes", "--kubeconfig", PATH]; the manifests backend otherwise."""
    from spin_gateway.gateway_api.auth.tokens import TokenSigner, load_or_create_key

    with tempfile.TemporaryDirectory(prefix="spin-bench-") as tmp:
        state = Path(tmp)
        tokens = {u: TokenSigner(load_or_create_key(state / "signing.key")).issue(u, ttl=3600)[0]
                  for u in ("alice", "carol")}
        port = free_port()
        backend = backend_args or ["--backend", "manifests", "--manifests-dir", str(state / "manifests")]
        cmd = [sys.executable, "-m", "spin_gateway.cli.main", "gateway", "serve", *backend, "--host", "127.0.0.1",
               "--port", str(port), "--state-dir", str(state),
               "--audit-log", str(state / "audit.log"), "--users", str(ROOT / "examples/users.yaml"),
               "--policy-dir", str(policy_dir), "--workers", str(workers)]
        log = open(state / "gateway.log", "w")
        env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, state / "gateway.log", startup_timeout)
            # A job prologue calls as the facility system: a service token acting for the job's user.
            r = httpx.post(url + "/v1/tokens", headers={"Authorization": f"Bearer {tokens['carol']}"}, timeout=30,
                           json={"name": "bench-facility", "users": ["alice"], "operations": ["check", "up"],
                                 "ttl_seconds": 3600})
            r.raise_for_status()
            yield {"url": url, "pid": proc.pid, "tokens": tokens, "state": state,
                   "facility": {"token": r.json()["token"], "user": "alice"}}
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
