"""Three gateway replicas against one API server behave as one: project Leases, waits, takeovers, audit.

Each replica is a real `spin gateway serve --backend kubernetes` process with the shipped RBAC's service
account, its own state directory and its own audit log (the keys are shared, as a Deployment mounts one
Secret). Faults are armed at run time (tests/faults/gateway_faults.py): a slow apply, or SIGKILL just
before the Nth object is written.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from spin_gateway.audit.log import read_records
from spin_gateway.audit.verify import verify
from spin_gateway.backends.kube_api import KubeApi
from spin_gateway.backends.leases import JOURNAL_ANNOTATION, LeaseLocks
from spin_gateway.gateway_api.auth.tokens import load_or_create_key
from spin_gateway.vocabulary.errors import Conflict
from tests.cluster.conftest import apply_manifests, eventually, service_account_kubeconfig
from tests.e2e.conftest import ROOT, SPIN, free_port
from tests.faults.gateway_faults import environment

LEASE_SECONDS = 5
#: One service scaled to zero: the burst exercises the gateway and the API server, not the node's CPU.
COMPOSE = {"name": "replicas", "services": {"job": {
    "image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"], "deploy": {"replicas": 0}}}}
#: Namespace, Deployment, Service, NetworkPolicy: what COMPOSE becomes, in apply order.
OBJECTS = 4


class Replica:
    def __init__(self, name: str, root: Path, kubeconfig: Path, keys: Path):
        self.name, self.root, self.kubeconfig, self.keys = name, root, kubeconfig, keys
        self.state = root / name / "state"
        self.audit_log = root / f"audit-{name}.log"
        self.faults = root / name / "faults.json"
        self.state.mkdir(parents=True, exist_ok=True)
        for key in ("signing.key", "audit.key"):  # one Secret mounted in every replica
            shutil.copy(keys / key, self.state / key)
        self.start()

    def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.root / f"{self.name}.log", "a")
        self.proc = subprocess.Popen(
            [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "kubernetes",
             "--kubeconfig", str(self.kubeconfig), "--context", "spin-test",
             "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
             "--audit-log", str(self.audit_log), "--state-dir", str(self.state),
             "--lock-namespace", "spin-system", "--lock-lease-seconds", str(LEASE_SECONDS)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**environment(self.faults, self.root / self.name / "site"), "SPIN_REPLICA": self.name})

    def ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"replica {self.name} did not start: {(self.root / f'{self.name}.log').read_text()[-2000:]}")

    @property
    def identity(self) -> str:
        return f"{self.name}/pid-{self.proc.pid}"

    def arm(self, **faults) -> None:
        self.faults.write_text(json.dumps(faults))

    def disarm(self) -> None:
        self.faults.unlink(missing_ok=True)

    def up(self, project: str, headers: dict[str, str], timeout: float = 300) -> httpx.Response:
        with httpx.Client(timeout=timeout) as client:
            return client.put(f"{self.url}/v1/projects/{project}", headers=headers, json={"compose": COMPOSE})

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Replicas(list):
    headers: dict[str, str]
    audit_key: bytes

    def records(self) -> list[dict]:
        return [r | {"_replica": rep.name} for rep in self for r in read_records(rep.audit_log)]


@pytest.fixture(scope="module")
def replicas(kube, tmp_path_factory):
    shipped = [d for name in ("namespace.yaml", "rbac.yaml")
               for d in yaml.safe_load_all((ROOT / "examples/kubernetes" / name).read_text()) if d]
    apply_manifests(kube, shipped)
    root = tmp_path_factory.mktemp("replicas")
    config = service_account_kubeconfig(kube, root, "spin-system", "spin-gateway")
    keys = root / "keys"
    keys.mkdir()
    load_or_create_key(keys / "signing.key")
    load_or_create_key(keys / "audit.key")
    started = Replicas(Replica(name, root, config, keys) for name in ("replica-a", "replica-b", "replica-c"))
    try:
        for replica in started:
            replica.ready()
        token = subprocess.run([*SPIN, "gateway", "token", "--user", "alice", "--state-dir", str(keys)],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        started.headers = {"authorization": f"Bearer {token}"}
        started.audit_key = (keys / "audit.key").read_bytes().strip()
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def leases(kube, projects):
    """The project Leases of this test's projects, deleted afterwards (they live in spin-system)."""
    api = kube.admin()

    def read(namespace: str) -> dict | None:
        return api.get(f"/apis/coordination.k8s.io/v1/namespaces/spin-system/leases/{LeaseLocks.lease_name(namespace)}",
                       "read lease")

    yield read
    for namespace in projects.made:
        try:
            api.request("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/spin-system/leases/"
                                  f"{LeaseLocks.lease_name(namespace)}", what="clean up", retry=False)
        except Exception:
            pass  # never made, or already gone


def _holder(lease: dict | None) -> str:
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def test_a_job_array_burst_across_three_replicas_applies_every_project_once(kube, replicas, projects, leases):
    names = [projects.new("burst").project for _ in range(20)]
    # 100 prologues, 5 per project, each project's spread over all three replicas, all at once.
    jobs = [(names[i % len(names)], i % 3) for i in range(100)]
    random.Random(16).shuffle(jobs)

    def prologue(job):
        project, index = job
        began = time.monotonic()
        answer = replicas[index].up(project, replicas.headers)
        return project, index, answer, time.monotonic() - began

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        done = list(pool.map(prologue, jobs))
    wall = time.monotonic() - began

    failed = [(p, a.status_code, a.text[:300]) for p, _, a, _ in done if a.status_code != 200]
    assert not failed, failed
    statuses = collections.defaultdict(list)
    for project, _, answer, _ in done:
        statuses[project].append(answer.json()["status"])
    wrong = {p: s for p, s in statuses.items() if sorted(s) != ["created"] + ["unchanged"] * 4}
    assert not wrong, f"projects not applied exactly once: {wrong}"
    api = kube.admin()
    for project in names:
        deployment = api.get(f"/apis/apps/v1/namespaces/{project}/deployments/job", "read")
        assert deployment is not None and deployment["metadata"]["generation"] == 1, project
        lease = leases(project)
        assert lease is not None and not _holder(lease), f"{project}: lease not released: {lease}"
        assert JOURNAL_ANNOTATION not in (lease["metadata"].get("annotations") or {})

    # No lost audit record: each answer's decisions and forwards are in the log of the replica that gave it.
    for replica in replicas:
        report = verify(replica.audit_log, key=replicas.audit_key)
        assert report.ok, (replica.name, report)
    by_request = collections.defaultdict(list)
    for record in replicas.records():
        if record.get("request_id"):
            by_request[record["request_id"]].append(record)
    for project, index, answer, _ in done:
        body = answer.json()
        found = by_request[body["request_id"]]
        assert {r["_replica"] for r in found} == {replicas[index].name}, (project, body["request_id"])
        assert sum(r["type"] == "decision" for r in found) == len(body["decisions"])
        assert sum(r["type"] == "forward" for r in found) == len(body["results"])

    figures = {"wall_seconds": round(wall, 2), "load": os.getloadavg()}
    for index, replica in enumerate(replicas):
        mine = [(a.json()["lock_waited"], took) for _, i, a, took in done if i == index]
        waits = [w for w, _ in mine if w > 0]
        figures[replica.name] = {"ups": len(mine), "mean_seconds": round(sum(t for _, t in mine) / len(mine), 2),
                                 "max_seconds": round(max(t for _, t in mine), 2), "waited": len(waits),
                                 "max_wait_seconds": round(max(waits, default=0), 2)}
        kube.timings[f"burst {replica.name} mean up"] = figures[replica.name]["mean_seconds"]
    kube.timings["burst of 100 ups (3 replicas) wall"] = wall
    if os.environ.get("SPIN_BURST_FIGURES"):
        Path(os.environ["SPIN_BURST_FIGURES"]).write_text(json.dumps(figures, indent=2))


def test_two_replicas_up_one_project_at_once_and_one_waits_for_the_others_lease(kube, replicas, projects, leases):
    a, b, c = replicas
    project = projects.new("race").project
    a.arm(slow=2.0)  # 4 objects, 2 s each: a holds the lease longer than its duration, so it must renew it
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(a.up, project, replicas.headers)
            assert eventually(lambda: _holder(leases(project)) == a.identity, timeout=60, every=0.1), \
                f"replica a never held the project's lease: {leases(project)}"
            taken = leases(project)["spec"]
            second = pool.submit(b.up, project, replicas.headers)
            # A third party with a short patience is refused, and told who holds the project.
            with pytest.raises(Conflict) as busy:
                with LeaseLocks(KubeApi(kube.api_client()), "spin-system", wait=0.5).hold(project):
                    pass
            assert a.identity in busy.value.message
            time.sleep(LEASE_SECONDS + 1)
            later = leases(project)["spec"]
            assert later["holderIdentity"] == a.identity, "b took the lease while a still held it"
            assert later["renewTime"] != taken["renewTime"] and later["acquireTime"] == taken["acquireTime"]
            one, two = first.result(), second.result()
    finally:
        a.disarm()
    assert one.status_code == two.status_code == 200, (one.text, two.text)
    assert one.json()["status"] == "created" and two.json()["status"] == "unchanged"
    assert two.json()["lock_waited"] > LEASE_SECONDS
    assert not _holder(leases(project))

    # A finished `down` (through the third replica) removes the project's Lease with the project.
    with httpx.Client(timeout=300) as client:
        down = client.delete(f"{c.url}/v1/projects/{project}", headers=replicas.headers)
    assert down.status_code == 200, down.text
    assert leases(project) is None


@pytest.mark.parametrize("die_at", [2, 4, "after"])
def test_a_replica_killed_mid_apply_is_taken_over_by_the_next_up_on_another(kube, replicas, projects, leases,
                                                                           die_at):
    victim, successor = replicas[2], replicas[0]
    project = projects.new("kill").project
    victim.arm(die_at=die_at)
    try:
        with pytest.raises(httpx.TransportError):
            victim.up(project, replicas.headers)
        victim.proc.wait(timeout=30)
        assert victim.proc.returncode == -signal.SIGKILL
        dead = victim.identity
        lease = leases(project)
        journal = json.loads(lease["metadata"]["annotations"][JOURNAL_ANNOTATION])
        assert _holder(lease) == dead and journal["phase"] == "forwarding" and journal["new_project"]

        answer = successor.up(project, replicas.headers)
    finally:
        victim.disarm()
        victim.stop()
        victim.start()  # as the Deployment's controller starts a new pod
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "created"
    api = kube.admin()
    assert api.get(f"/apis/apps/v1/namespaces/{project}/deployments/job", "read") is not None
    assert api.get(f"/api/v1/namespaces/{project}/services/job", "read") is not None
    lease = leases(project)
    assert not _holder(lease) and JOURNAL_ANNOTATION not in (lease["metadata"].get("annotations") or {})
    assert lease["spec"]["leaseTransitions"] >= 1  # taken over from the dead holder, not handed over

    records = replicas.records()
    abandoned = {r["request_id"] for r in records if r["_replica"] == victim.name and r.get("project") == project
                 and r.get("type") == "decision"}
    (takeover,) = [r for r in records if r.get("type") == "takeover" and r.get("project") == project]
    assert takeover["_replica"] == successor.name and takeover["request_id"] == body["request_id"]
    assert takeover["previous"]["holder"] == dead and {takeover["previous"]["request_id"]} == abandoned
    assert takeover["outcome"] == "completed"
    assert takeover["found_objects"] == (OBJECTS if die_at == "after" else die_at - 1)
    victim.ready()
