"""What the cluster cannot do, said in words: an API it does not serve, a quota that is used up."""

from __future__ import annotations

import pytest

from spin_gateway.vocabulary.errors import KubeApiError, WaitTimeout
from spin_gateway.vocabulary.types import Call
from tests.cluster.conftest import compose_calls, eventually

ONE = """
services:
  sim:
    image: localhost/spin/busybox:1.35
    command: ["sleep", "3600"]
"""


def cronjob(ref, api_version: str) -> dict:
    template = {"spec": {"restartPolicy": "Never",
                         "containers": [{"name": "c", "image": "localhost/spin/busybox:1.35"}]}}
    return {"apiVersion": api_version, "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": ref.namespace},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}}


def test_an_api_newer_than_the_cluster_is_named_and_nothing_is_changed(kube, backend, projects, tmp_path):
    version = backend.api.server_version()
    major, minor = (int("".join(ch for ch in part if ch.isdigit())) for part in version.lstrip("v").split(".")[:2])
    if (major, minor) >= (1, 21):
        pytest.skip(f"the cluster ({version}) serves batch/v1 CronJob")
    ref = projects.new("cron")
    calls = compose_calls(tmp_path, ONE, ref) + [Call(id="999-cronjob", operation="CREATE",
                                                      object=cronjob(ref, "batch/v1"))]
    with pytest.raises(KubeApiError) as info:
        backend.apply(ref, calls)
    assert info.value.reason == "Unsupported"
    assert (f"this cluster (Kubernetes {backend.api.server_version()}) does not serve CronJob in batch/v1 "
            "(batch/v1 CronJob needs Kubernetes 1.21 or newer); nothing was changed") == info.value.message
    # Checked before anything was written: not even the namespace exists.
    assert kube.admin().get(f"/api/v1/namespaces/{ref.namespace}", "read") is None


def test_a_used_up_quota_is_the_reason_wait_gives(kube, backend, projects, tmp_path):
    ref = projects.new("quota")
    calls = compose_calls(tmp_path, ONE, ref)
    backend.apply(ref, calls[:1])  # the namespace alone
    kube.admin().request("POST", f"/api/v1/namespaces/{ref.namespace}/resourcequotas", what="quota", body={
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
    # Quota admission holds only once the quota controller has counted the namespace (status.hard set);
    # before that a pod can slip through and wait for a node instead (seen in CI).
    assert eventually(lambda: (kube.admin().get(f"/api/v1/namespaces/{ref.namespace}/resourcequotas/no-pods",
                                                what="quota") or {}).get("status", {}).get("hard"), timeout=30)
    backend.apply(ref, calls)
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=8)
    message = info.value.message
    assert message.startswith("not ready after 8s: sim (0/1 ready): the project's quota does not allow more: ")
    assert "exceeded quota: no-pods" in message


@pytest.fixture
def node(kube, no_kubelet):
    """A Node object with no kubelet behind it, cordoned so the scheduler places nothing there.

    Without it the pod garbage collector deletes pods bound to a node that does not exist.
    """
    api = kube.admin()
    api.request("POST", "/api/v1/nodes", what="node", body={
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "spin-test-node"}, "spec": {"unschedulable": True}})
    yield "spin-test-node"
    api.request("DELETE", "/api/v1/nodes/spin-test-node", what="node")


def play_kubelet(kube, ref, node: str, service: str, container_status: dict) -> None:
    """What a kubelet would report, written through the real API: bind the pod to a node, set its status.

    There is no kubelet in the test control plane; the scheduler, the controllers
    and the API server are real, and so is the path from pod status to the
    researcher's message.
    """
    api = kube.admin()
    pods = eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ref.namespace}/pods", what="list", query={
        "labelSelector": f"spin.io/service={service}"})["items"])
    pod = pods[0]["metadata"]["name"]
    api.request("POST", f"/api/v1/namespaces/{ref.namespace}/pods/{pod}/binding", what="bind", body={
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}, "target": {"kind": "Node", "name": node}})
    api.request("PATCH", f"/api/v1/namespaces/{ref.namespace}/pods/{pod}/status", what="status",
                content_type="application/merge-patch+json",
                body={"status": {"phase": "Running", "containerStatuses": [
                    {"name": service, "image": "localhost/spin/busybox:1.35", "imageID": "", "ready": False,
                     **container_status}]}})


def test_a_crash_loop_is_the_reason_wait_gives(kube, backend, projects, tmp_path, node):
    ref = projects.new("crash")
    backend.apply(ref, compose_calls(tmp_path, ONE, ref))
    play_kubelet(kube, ref, node, "sim", {
        "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}}})
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=2)
    assert "sim (0/1 ready): container sim keeps crashing (restarted 4 times, last exit code 2)" in info.value.message
    assert [s.restarts for s in backend.status(ref)] == [4]


def test_an_image_that_cannot_be_pulled_is_the_reason_wait_gives(kube, backend, projects, tmp_path, node):
    ref = projects.new("pull")
    backend.apply(ref, compose_calls(tmp_path, ONE, ref))
    play_kubelet(kube, ref, node, "sim", {"restartCount": 0, "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "localhost/spin/busybox:1.35"'}}})
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=2)
    assert ("sim (0/1 ready): image localhost/spin/busybox:1.35 cannot be pulled (ImagePullBackOff): "
            'Back-off pulling image "localhost/spin/busybox:1.35"') in info.value.message
