"""SIGKILL the gateway at random moments under load: every answer a client got has its audit record, none is torn."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import httpx

from interceptor.audit import read_records
from interceptor.audit_verify import verify
from tests.e2e.conftest import LiveGateway

COMPOSE = {"name": "crash", "services": {
    "web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]},
    "worker": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"]},
}}


def _client_loop(url: str, headers: dict, stop: threading.Event, answered: list, index: int) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=5) as http:
        n = 0
        while not stop.is_set():
            n += 1
            project = f"crash-{index}-{n % 3}"
            try:
                if n % 2:
                    r = http.post(f"/v1/projects/{project}/check", json={"compose": COMPOSE})
                else:
                    r = http.put(f"/v1/projects/{project}", json={"compose": COMPOSE})
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                answered.append(r.json()["request_id"])


def test_sigkill_under_load_loses_no_answered_record_and_tears_none(tmp_path):
    rng = random.Random(int(os.environ.get("SPIN_CRASH_SEED", "7")))
    answered: list[str] = []
    rounds = int(os.environ.get("SPIN_CRASH_ROUNDS", "6"))
    for _ in range(rounds):
        live = LiveGateway(tmp_path, backend="manifests")
        headers = {"authorization": f"Bearer {live.token('alice')}"}
        stop = threading.Event()
        clients = [threading.Thread(target=_client_loop, args=(live.url, headers, stop, answered, i)) for i in range(6)]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(0.5, 2.0))
        os.kill(live.proc.pid, signal.SIGKILL)
        live.proc.wait()
        stop.set()
        for c in clients:
            c.join()
        live.log.close()
    assert len(answered) > 20, "the load did not get through; the test proves nothing"
    report = verify(tmp_path / "state" / "audit.log")
    assert report.ok, report
    logged = {r.get("request_id") for r in read_records(tmp_path / "state" / "audit.log")}
    missing = [rid for rid in answered if rid not in logged]
    assert not missing, f"{len(missing)} answered requests have no audit record"
