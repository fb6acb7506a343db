"""One machine (manifests backend): the project lock is an flock in the state directory, and the journal
beside it lets the next `up` finish (or roll back) one whose process was SIGKILLed mid-apply.

Real gateway processes; the faults (slow, die, fail at the Nth object) are armed through
tests/faults/gateway_faults.py, in the processes uvicorn spawns for `--workers` as well.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest

from spin_gateway.audit.log import read_records
from spin_gateway.audit.verify import verify
from spin_gateway.backends.locks import FileLocks
from spin_gateway.vocabulary.errors import Conflict
from tests.e2e.conftest import ROOT, SPIN, free_port
from tests.faults.gateway_faults import environment

COMPOSE = {"name": "lock", "services": {
    "web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]},
    "worker": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"]},
}}


class Gateway:
    """`spin gateway serve --backend manifests` in its own session, faults armed from `faults.json`."""

    def __init__(self, tmp: Path, workers: int = 1):
        self.tmp = tmp
        self.faults = tmp / "faults.json"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = tmp / "state"
        self.manifests = tmp / "manifests"
        self.log = open(tmp / "gateway.log", "a")
        self.proc = subprocess.Popen(
            [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "manifests", "--workers", str(workers),
             "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
             "--audit-log", str(self.state / "audit.log"), "--state-dir", str(self.state),
             "--manifests-dir", str(self.manifests)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env=environment(self.faults, tmp / "site"))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gateway did not start: {(tmp / 'gateway.log').read_text()[-2000:]}")
        token = subprocess.run([*SPIN, "gateway", "token", "--user", "alice", "--state-dir", str(self.state)],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        self.headers = {"authorization": f"Bearer {token}"}

    def arm(self, **faults) -> None:
        self.faults.write_text(json.dumps(faults))

    def up(self, project: str, timeout: float = 60) -> httpx.Response:
        # A new connection each time, so the kernel may hand it to any worker.
        with httpx.Client(timeout=timeout) as client:
            return client.put(f"{self.url}/v1/projects/{project}", headers=self.headers, json={"compose": COMPOSE})

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture
def gateways():
    started: list[Gateway] = []

    def start(tmp: Path, workers: int = 1) -> Gateway:
        started.append(Gateway(tmp, workers))
        return started[-1]

    yield start
    for gateway in started:
        gateway.stop()


HOLD = textwrap.dedent("""
    import sys, time
    from spin_gateway.backends.locks import FileLocks
    with FileLocks(sys.argv[1]).hold(sys.argv[2]):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
""")


def test_a_project_lock_another_process_holds_makes_an_up_wait_or_refuses_it_naming_the_holder(tmp_path):
    namespace = f"lock-{uuid.uuid4().hex[:6]}"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), namespace, "2"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(Conflict) as refused:
            with FileLocks(tmp_path).hold(namespace, wait=0.3):
                pass
        assert f"pid-{holder.pid}" in refused.value.message and "busy" in refused.value.message
        with FileLocks(tmp_path).hold(namespace, wait=30) as held:
            # Held for 2 s from "held" on; 0.3 s of it went to the refused attempt.
            assert held.waited > 1.2, "the lock was granted while the other process still held it"
    finally:
        holder.kill()
        holder.wait()


def test_two_workers_apply_each_project_once_however_the_ups_interleave(tmp_path, gateways):
    gateway = gateways(tmp_path, workers=2)
    gateway.arm(slow=0.15)  # each object write takes a while: unserialised ups would overlap
    projects = [f"lock-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    ups = [p for p in projects for _ in range(5)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(ups)) as pool:
        answers = list(pool.map(gateway.up, ups))
    assert [a.status_code for a in answers] == [200] * len(ups), [a.text for a in answers if a.status_code != 200][:2]
    statuses = collections.defaultdict(list)
    for project, answer in zip(ups, answers, strict=True):
        statuses[project].append(answer.json()["status"])
    for project in projects:
        assert sorted(statuses[project]) == ["created"] + ["unchanged"] * 4, (project, statuses[project])
    assert sum(a.json()["lock_waited"] > 0 for a in answers) >= len(projects), "no up ever waited for another"
    assert verify(gateway.state / "audit.log").ok


def _journal(gateway: Gateway, project: str) -> Path:
    return gateway.state / "locks" / f"{project}.journal"


def _abandoned_request(log: Path, project: str) -> str:
    """The request whose decisions are on record but whose forward never was: the one that was killed."""
    records = [r for r in read_records(log) if r.get("project") == project]
    decided = {r["request_id"] for r in records if r.get("type") == "decision"}
    forwarded = {r["request_id"] for r in records if r.get("type") == "forward"}
    (abandoned,) = decided - forwarded
    return abandoned


@pytest.mark.parametrize("die_at", [2, "after"])
def test_an_up_killed_mid_apply_is_completed_by_the_next_gateway_process(tmp_path, gateways, die_at):
    first = gateways(tmp_path)
    project = f"lock-{uuid.uuid4().hex[:6]}"
    first.arm(die_at=die_at)
    with pytest.raises(httpx.TransportError):
        first.up(project)
    first.proc.wait(timeout=10)
    assert first.proc.returncode == -signal.SIGKILL
    left = json.loads(_journal(first, project).read_text())
    assert left["operation"] == "up" and left["new_project"] and left["phase"] == "forwarding"

    first.faults.unlink()
    second = gateways(tmp_path)  # the same state directory: the gateway restarted on this machine
    answer = second.up(project)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "created"
    assert {p.name for p in (second.manifests / project).glob("*.yaml")} >= {"deployment-web.yaml",
                                                                             "deployment-worker.yaml"}
    assert not _journal(second, project).exists()
    log = second.state / "audit.log"
    assert verify(log).ok
    (takeover,) = [r for r in read_records(log) if r.get("type") == "takeover"]
    assert takeover["previous"]["request_id"] == left["request_id"] == _abandoned_request(log, project)
    assert takeover["request_id"] == answer.json()["request_id"] and takeover["outcome"] == "completed"
    assert takeover["found_objects"] == (1 if die_at == 2 else takeover["previous"]["objects"])


def test_a_first_up_killed_mid_apply_is_rolled_back_when_the_next_up_fails_too(tmp_path, gateways):
    """The successor's plan updates the leftovers, yet the project is new: its failure removes all of it."""
    first = gateways(tmp_path)
    project = f"lock-{uuid.uuid4().hex[:6]}"
    first.arm(die_at=3)
    with pytest.raises(httpx.TransportError):
        first.up(project)
    first.proc.wait(timeout=10)
    assert len(list((first.manifests / project).glob("*.yaml"))) == 2

    second = gateways(tmp_path)
    second.arm(fail_at=3)
    answer = second.up(project)
    assert answer.status_code == 502, answer.text
    assert "everything this `up` had created was removed again" in answer.json()["detail"]
    assert not list((second.manifests / project).glob("*.yaml")), "leftovers of the killed up remain"
    assert not _journal(second, project).exists()
    (takeover,) = [r for r in read_records(second.state / "audit.log") if r.get("type") == "takeover"]
    assert takeover["outcome"].startswith("rolled back") and takeover["previous"]["new_project"] is True
