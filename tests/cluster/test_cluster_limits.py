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
    calls = [*compose_calls(tmp_path, ONE, ref), Call(id="999-cronjob", operation="CREATE",
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

# Crash loops and image pulls are read from a real kubelet in tests/cluster/test_pods.py.
