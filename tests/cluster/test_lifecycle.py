"""up, re-up, change, prune, down and down -v against a real API server."""

from __future__ import annotations

import pytest

from spin_gateway.vocabulary.errors import WaitTimeout
from tests.cluster.conftest import compose_calls, down_calls, eventually, resource_versions, settled_versions

WEB = """
services:
  web:
    image: localhost/spin/busybox:1.35
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["127.0.0.1:18080:8080"]
    volumes: ["data:/data"]
  worker:
    image: localhost/spin/busybox:1.35
    command: ["sleep", "3600"]
    environment:
      QUEUE: default
volumes:
  data: {}
"""


def up(backend, tmp_path, ref, compose, name="compose.yaml"):
    calls = compose_calls(tmp_path, compose, ref, backend.existing_objects(ref), name=name)
    return {(r.kind, r.name): r.action for r in backend.apply(ref, calls)}


def test_up_creates_the_project_namespace_and_its_objects(kube, backend, projects, tmp_path):
    ref = projects.new("up")
    actions = up(backend, tmp_path, ref, WEB)
    assert actions[("Namespace", ref.namespace)] == "created"
    assert actions[("Deployment", "web")] == "created"
    assert actions[("PersistentVolumeClaim", "data")] == "created"
    ns = kube.admin().get(f"/api/v1/namespaces/{ref.namespace}", "read")
    assert ns["metadata"]["labels"]["spin.io/project"] == ref.project
    assert ns["metadata"]["labels"]["spin.io/owner"] == "alice"
    info = backend.existing(ref)
    assert (info.owner, info.facility_project, info.services) == ("alice", "astro", ["web", "worker"])
    dep = kube.admin().get(f"/apis/apps/v1/namespaces/{ref.namespace}/deployments/web", "read")
    managers = {m["manager"] for m in dep["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"spin"}


def test_a_second_up_of_the_same_compose_changes_nothing(kube, backend, projects, tmp_path):
    ref = projects.new("reup")
    up(backend, tmp_path, ref, WEB)
    before = settled_versions(kube, ref)
    actions = up(backend, tmp_path, ref, WEB)
    assert set(actions.values()) == {"unchanged"}, actions
    assert resource_versions(kube, ref) == before


def test_a_changed_compose_changes_only_what_changed(kube, backend, projects, tmp_path):
    ref = projects.new("change")
    up(backend, tmp_path, ref, WEB)
    before = settled_versions(kube, ref)
    actions = up(backend, tmp_path, ref, WEB.replace("QUEUE: default", "QUEUE: urgent"))
    assert actions[("Deployment", "worker")] == "configured"
    assert {k for k, v in actions.items() if v != "unchanged"} == {("Deployment", "worker")}
    after = resource_versions(kube, ref)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {("Deployment", "worker")}
    dep = kube.admin().get(f"/apis/apps/v1/namespaces/{ref.namespace}/deployments/worker", "read")
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "QUEUE", "value": "urgent"} in env


def test_a_service_removed_from_the_compose_is_pruned_and_its_volume_kept(kube, backend, projects, tmp_path):
    ref = projects.new("prune")
    up(backend, tmp_path, ref, WEB)
    smaller = """
services:
  worker:
    image: localhost/spin/busybox:1.35
    command: ["sleep", "3600"]
    environment:
      QUEUE: default
"""
    actions = up(backend, tmp_path, ref, smaller)
    assert actions[("Deployment", "web")] == "deleted"
    assert actions[("Service", "web")] == "deleted"
    assert actions[("PersistentVolumeClaim", "data")] == "skipped"
    assert actions[("Deployment", "worker")] == "unchanged"
    gone = eventually(lambda: kube.admin().get(f"/apis/apps/v1/namespaces/{ref.namespace}/deployments/web", "read") is None)
    assert gone
    assert kube.admin().get(f"/api/v1/namespaces/{ref.namespace}/persistentvolumeclaims/data", "read") is not None
    assert backend.existing(ref).services == ["worker"]


def test_down_removes_everything_but_volumes_and_down_v_removes_those_too(kube, backend, projects, tmp_path):
    ref = projects.new("down")
    up(backend, tmp_path, ref, WEB)
    results = {(r.kind, r.name): r.action for r in backend.delete(ref, down_calls(backend, ref), volumes=False)}
    assert results[("Deployment", "web")] == "deleted"
    assert results[("PersistentVolumeClaim", "data")] == "skipped"
    # down waits until they are gone: nothing is left but the volume and its namespace.
    assert backend.existing_objects(ref) == {("Namespace", ref.namespace), ("PersistentVolumeClaim", "data")}
    assert kube.admin().request("GET", f"/api/v1/namespaces/{ref.namespace}/pods", what="list")["items"] == []

    results = {(r.kind, r.name): r.action for r in backend.delete(ref, down_calls(backend, ref), volumes=True)}
    assert results[("PersistentVolumeClaim", "data")] == "deleted"
    assert results[("Namespace", ref.namespace)] == "deleted"
    assert kube.admin().get(f"/api/v1/namespaces/{ref.namespace}", "read") is None
    assert backend.existing(ref) is None


def test_up_again_after_down_converges(kube, backend, projects, tmp_path):
    ref = projects.new("again")
    up(backend, tmp_path, ref, WEB)
    backend.delete(ref, down_calls(backend, ref), volumes=True)
    actions = up(backend, tmp_path, ref, WEB)
    assert actions[("Deployment", "web")] == "created"


def test_wait_times_out_with_the_schedulers_reason(kube, backend, projects, tmp_path):
    ref = projects.new("wait")
    up(backend, tmp_path, ref, WEB)
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=3)
    message = info.value.message
    assert "not ready after 3s" in message
    # The node has no volume provisioner: web's claim stays unbound and the scheduler says so.
    assert ("web (0/1 ready): cannot be placed on any node: 0/1 nodes are available: pod has unbound immediate "
            "PersistentVolumeClaims") in message
    assert "worker (" not in message  # worker has no volume: it runs


def test_status_shows_each_service_with_its_reason_ports_and_age(kube, backend, projects, tmp_path):
    ref = projects.new("ps")
    up(backend, tmp_path, ref, WEB)
    statuses = eventually(lambda: [s for s in backend.status(ref) if "placed" in s.message], timeout=20)
    by_service = {s.service: s for s in backend.status(ref)}
    assert statuses
    web = by_service["web"]
    assert (web.kind, web.ready, web.desired, web.state) == ("Deployment", 0, 1, "waiting")
    assert "web:8080/tcp" in web.ports and "127.0.0.1:18080->8080/tcp" in web.ports
    assert web.age_seconds is not None and web.age_seconds >= 0
    assert web.restarts == 0


def test_logs_say_clearly_there_are_none_for_a_pod_not_on_a_node(kube, backend, projects, tmp_path):
    ref = projects.new("logs")
    up(backend, tmp_path, ref, WEB)
    eventually(lambda: kube.admin().request("GET", f"/api/v1/namespaces/{ref.namespace}/pods", what="list")["items"])
    lines = eventually(lambda: [line for line in backend.logs(ref, "web", tail=10, since="5m") if "placed" in line], timeout=20)
    assert lines and lines[0].startswith("web | no logs: pod web-")
    assert "has not started on any node (cannot be placed on any node" in lines[0]


def test_two_projects_side_by_side_do_not_touch_each_other(kube, backend, projects, tmp_path):
    a, b = projects.new("side-a"), projects.new("side-b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    up(backend, tmp_path / "a", a, WEB)
    up(backend, tmp_path / "b", b, WEB)
    before_b = settled_versions(kube, b)
    backend.delete(a, down_calls(backend, a), volumes=True)
    assert backend.existing(a) is None
    assert resource_versions(kube, b) == before_b
    names = {p.project for p in backend.list_projects()}
    assert b.project in names and a.project not in names


def test_a_namespace_spin_did_not_make_is_never_taken_over(kube, backend, tmp_path):
    from spin_gateway.backends.base import ProjectRef
    from spin_gateway.vocabulary.errors import Conflict

    ref = ProjectRef("default", "default", owner="alice", facility_project="astro")
    with pytest.raises(Conflict) as info:
        backend.existing(ref)
    assert "namespace 'default' already exists in the cluster and does not belong to spin project 'default'" \
        in info.value.message
    before = kube.admin().get("/api/v1/namespaces/default", "read")["metadata"]["resourceVersion"]
    with pytest.raises(Conflict):
        backend.apply(ref, compose_calls(tmp_path, WEB, ref))
    after = kube.admin().get("/api/v1/namespaces/default", "read")
    assert after["metadata"]["resourceVersion"] == before
    assert kube.admin().get("/apis/apps/v1/namespaces/default/deployments/web", "read") is None


JOB = """
services:
  reduce:
    image: localhost/spin/busybox:1.35
    command: ["echo", "night 1"]
    restart: "no"
"""


def test_a_changed_one_shot_service_replaces_its_job(kube, backend, projects, tmp_path):
    ref = projects.new("job")
    assert up(backend, tmp_path, ref, JOB)[("Job", "reduce")] == "created"
    uid = kube.admin().get(f"/apis/batch/v1/namespaces/{ref.namespace}/jobs/reduce", "read")["metadata"]["uid"]
    # A Job's pod template cannot be changed in place: the old run is replaced by a new one.
    actions = up(backend, tmp_path, ref, JOB.replace("night 1", "night 2"), name="b.yaml")
    assert actions[("Job", "reduce")] == "configured"
    job = kube.admin().get(f"/apis/batch/v1/namespaces/{ref.namespace}/jobs/reduce", "read")
    assert job["metadata"]["uid"] != uid
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["echo", "night 2"]


def test_two_gateway_replicas_applying_the_same_project_at_once_converge(kube, projects, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from spin_gateway.backends.kubernetes import KubernetesBackend

    replicas = [KubernetesBackend(kubeconfig=str(kube.kubeconfig)) for _ in range(2)]
    ref = projects.new("race")
    calls = compose_calls(tmp_path, WEB, ref)
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda b: b.apply(ref, calls), replicas))
    assert all(len(results) == len(calls) for results in outcomes)
    settled_versions(kube, ref)
    again = replicas[0].apply(ref, compose_calls(tmp_path, WEB, ref, replicas[0].existing_objects(ref)))
    assert {r.action for r in again} == {"unchanged"}
