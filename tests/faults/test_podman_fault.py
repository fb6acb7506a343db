"""Real podman failing on its Nth `kube play` part-way through `up`: the pods, volume and network this `up`
made are removed again, and the next `up` brings the whole project up."""

from __future__ import annotations

import json
import subprocess

import pytest

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.backends.base import ProjectRef
from spin_gateway.backends.podman import PodmanBackend
from spin_gateway.interceptor.intercept import intercept
from spin_gateway.vocabulary.errors import PodmanError
from tests.e2e.conftest import podman_ready  # noqa: F401  (builds the busybox image once)
from tests.faults.faults import FailingPodmanRunner
from tests.faults.plans import ALICE, ctx, down_calls, plan, project_objects

pytestmark = pytest.mark.podman
NS = "spin-fault-podman"


def _leftovers() -> dict[str, list[str]]:
    def names(*args):
        out = subprocess.run(["podman", *args, "--format", "json", "--filter", f"label=spin.io/project={NS}"],
                             capture_output=True, text=True, check=True).stdout
        return sorted(item.get("Name") or item.get("name") for item in json.loads(out or "[]") or [])
    return {"pods": names("pod", "ps"), "volumes": names("volume", "ls"), "networks": names("network", "ls")}


@pytest.fixture
def clean():
    backend = PodmanBackend()
    ref = ProjectRef(NS, NS, "alice", "astro")
    backend.delete(ref, down_calls(backend, ref), volumes=True)
    yield backend, ref
    backend.delete(ref, down_calls(backend, ref), volumes=True)


def test_podman_failing_on_the_second_workload_leaves_nothing_and_up_again_converges(tmp_path, podman_ready,  # noqa: F811 (the fixture imported above)
                                                                                      allow_all, clean):
    backend, ref = clean
    audit = AuditLog(tmp_path / "audit.log")
    runner = FailingPodmanRunner(n=2)
    with pytest.raises(PodmanError) as info:
        intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, PodmanBackend(runner), ctx("fail"),
                  dry_run=False)
    assert runner.plays == 2  # the first workload's pod really ran before the fault
    assert "removed again" in info.value.message
    assert _leftovers() == {"pods": [], "volumes": [], "networks": []}
    undone = [r for r in read_records(audit.path) if r.get("operation") == "rollback"]
    assert {r["object"]["kind"] for r in undone} >= {"Pod", "PersistentVolumeClaim"}

    outcome = intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, backend, ctx("again"), dry_run=False)
    assert outcome.forwarded
    statuses = backend.wait(ref, timeout=60)
    assert sorted(s.service for s in statuses) == ["web", "worker"]
    assert verify(audit.path).ok


def test_podman_down_removes_only_what_its_approved_calls_name(tmp_path, podman_ready, allow_all, clean):  # noqa: F811
    """A pod started after `down` was decided (a second `up` racing it) is not the down's to remove:
    it stays, and so does the network it runs on; what was approved goes."""
    backend, ref = clean
    audit = AuditLog(tmp_path / "audit.log")
    objects = project_objects(NS)
    first = [o for o in objects if o["metadata"]["name"] != "worker"]
    intercept(plan(NS, first), ALICE, allow_all, audit, backend, ctx("up-1"), dry_run=False)
    approved = down_calls(backend, ref)  # decided now: web, its volume, the namespace
    intercept(plan(NS, objects, backend.existing_objects(ref)), ALICE, allow_all, audit, backend, ctx("up-2"),
              dry_run=False)
    results = backend.delete(ref, approved, volumes=True)
    left = _leftovers()
    assert [p.split("_")[-1] for p in left["pods"]] == ["worker"], left
    assert left["networks"], "the worker's network went with a down that never approved removing the worker"
    assert left["volumes"] == []
    assert {(r.kind, r.action) for r in results} >= {("Pod", "deleted"), ("Pod", "skipped"),
                                                     ("PersistentVolumeClaim", "deleted")}
    audit.close()
