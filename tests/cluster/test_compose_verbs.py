"""Issue 19 on a real API server: replicas counted N/N, exec through the API server, restart (new pods from the
same decided template), an orphaned service kept until asked, and stop refused with the reason."""

from __future__ import annotations

import dataclasses

import pytest

from spin_gateway.vocabulary.errors import UsageError
from tests.cluster.conftest import compose_calls, eventually, pods_of

COMPOSE = """
services:
  web:
    image: localhost/spin/busybox:1.35
    command: ["sleep", "3600"]
    deploy: {replicas: 2}
  worker:
    image: localhost/spin/busybox:1.35
    command: ["sleep", "3600"]
"""


def test_replicas_exec_restart_and_orphans_on_kubernetes(kube, backend, projects, tmp_path):
    ref = projects.new("verbs")
    backend.apply(ref, compose_calls(tmp_path, COMPOSE, ref))
    statuses = {s.service: s for s in backend.wait(ref, 120)}
    assert (statuses["web"].ready, statuses["web"].desired) == (2, 2)

    ran = backend.exec(ref, "web", ["sh", "-c", "echo from inside; exit 3"], timeout=30)
    assert ran.exit_code == 3 and "from inside" in ran.output

    before = {p["metadata"]["name"] for p in pods_of(kube, ref.namespace, "web")}
    results = backend.lifecycle(ref, "restart", ["web"])
    assert {r.name for r in results} == before
    eventually(lambda: len({p["metadata"]["name"] for p in pods_of(kube, ref.namespace, "web")
                            if not p["metadata"].get("deletionTimestamp")} - before) == 2, timeout=90)

    with pytest.raises(UsageError) as info:
        backend.lifecycle(ref, "stop", [])
    assert "spin scale" in info.value.hint

    # `worker` left the compose file: kept while the up keeps orphans, removed when it does not
    smaller = COMPOSE.split("  worker:")[0]
    keep = dataclasses.replace(ref, keep_services=frozenset({"worker"}))
    kept = backend.apply(keep, compose_calls(tmp_path, smaller, keep, backend.existing_objects(ref), name="b.yaml"))
    assert not [r for r in kept if r.name == "worker"]
    assert ("Deployment", "worker") in backend.existing_objects(ref)
    pruned = backend.apply(ref, compose_calls(tmp_path, smaller, ref, backend.existing_objects(ref), name="c.yaml"))
    assert ("Deployment", "worker", "deleted") in {(r.kind, r.name, r.action) for r in pruned}
