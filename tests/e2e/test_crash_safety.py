"""SIGKILL the gateway at random moments under load: every answer a client got has its audit record, none is torn.

A real gateway process (uvicorn, embedded OPA, manifests backend) serves six
client threads that check, bring up and get refused; it is killed with SIGKILL
at a random moment, restarted on the same state, and killed again, round after
round. Then: every answer a client received (allowed, applied or refused) has
its records, every applied `up` has its forwarding results, the chain and
every HMAC verify, and no record was ever torn (no recovery record).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

import httpx
import pytest

from spin_gateway.audit.log import read_records
from spin_gateway.audit.verify import verify
from tests.e2e.conftest import ROOT, SPIN, free_port

COMPOSE = {"name": "crash", "services": {
    "web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]},
    "worker": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"]},
}}
DENIED = {"name": "crash", "services": {
    "evil": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"], "privileged": True},
}}


def _client_loop(url: str, headers: dict, stop: threading.Event, answered: list, index: int) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        n = 0
        while not stop.is_set():
            n += 1
            project = f"crash-{index}-{n % 3}"
            kind = ("check", "up", "denied")[n % 3]
            try:
                if kind == "check":
                    r = http.post(f"/v1/projects/{project}/check", json={"compose": COMPOSE})
                elif kind == "up":
                    r = http.put(f"/v1/projects/{project}", json={"compose": COMPOSE})
                else:
                    r = http.put(f"/v1/projects/{project}-x", json={"compose": DENIED})
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                answered.append((kind, r.json()["request_id"]))
            elif r.status_code == 403 and kind == "denied":
                data = r.json()["data"]  # the refused plan, with its request id
                answered.append((kind, data.get("request_id") or data["data"]["request_id"]))


class _Gateway:
    """`spin gateway serve` in its own session, so SIGKILL reaches uvicorn's workers as well as its master."""

    def __init__(self, tmp, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        state = tmp / "state"
        self.log = open(tmp / "gateway.log", "a")
        self.proc = subprocess.Popen(
            [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "manifests", "--workers", str(workers),
             "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
             "--audit-log", str(state / "audit.log"), "--state-dir", str(state),
             "--manifests-dir", str(tmp / "manifests")],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gateway did not start: {(tmp / 'gateway.log').read_text()[-2000:]}")
        token = subprocess.run([*SPIN, "gateway", "token", "--user", "alice", "--state-dir", str(state)],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        self.headers = {"authorization": f"Bearer {token}"}

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_under_load_loses_no_answered_record_and_tears_none(tmp_path, workers):
    """With two uvicorn workers, two processes write one log: the flock keeps one chain through the kills."""
    rng = random.Random(int(os.environ.get("SPIN_CRASH_SEED", "7")) + workers)
    answered: list[tuple[str, str]] = []
    rounds = int(os.environ.get("SPIN_CRASH_ROUNDS", "6"))
    for _ in range(rounds):
        live = _Gateway(tmp_path, workers)
        stop = threading.Event()
        before = len(answered)
        clients = [threading.Thread(target=_client_loop, args=(live.url, live.headers, stop, answered, i))
                   for i in range(6)]
        for c in clients:
            c.start()
        warm = time.monotonic() + 30  # a fresh process answers its first requests slowly (imports, engine pool)
        while len(answered) == before and time.monotonic() < warm:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        live.kill()  # mid-request: six clients are always waiting on it
        stop.set()
        for c in clients:
            c.join()
        assert len(answered) > before, "a round got no answers before the kill; it proves nothing"
    kinds = {kind for kind, _ in answered}
    assert kinds == {"check", "up", "denied"}, f"the load did not exercise every path: {kinds}"

    log = tmp_path / "state" / "audit.log"
    report = verify(log, key=(tmp_path / "state" / "audit.key").read_bytes().strip())
    assert report.ok, report
    assert report.head == "ok"
    records = list(read_records(log))
    assert not [r for r in records if r.get("type") == "recovery"], "a record was torn by a kill"
    decided = {r["request_id"] for r in records if r.get("type") == "decision"}
    forwarded = {r["request_id"] for r in records if r.get("type") == "forward"}
    missing = [(kind, rid) for kind, rid in answered if rid not in decided]
    assert not missing, f"{len(missing)} answered requests have no decision record: {missing[:5]}"
    unforwarded = [rid for kind, rid in answered if kind == "up" and rid not in forwarded]
    assert not unforwarded, f"{len(unforwarded)} applied ups have no forwarding record"
    assert not [rid for kind, rid in answered if kind == "denied" and rid in forwarded], "a denied up was forwarded"
