"""The gateway as the shipped RBAC lets it be: a service account token, no more rights than granted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spin_gateway.backends.kubernetes import KubernetesBackend
from spin_gateway.vocabulary.errors import KubeApiError, WaitTimeout
from tests.cluster.conftest import (
    apply_manifests,
    compose_calls,
    down_calls,
    service_account_kubeconfig,
    settled_versions,
)
from tests.cluster.test_lifecycle import WEB

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "examples/kubernetes"


def shipped(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


@pytest.fixture(scope="module")
def gateway_kubeconfig(kube, tmp_path_factory):
    apply_manifests(kube, shipped("namespace.yaml") + shipped("rbac.yaml"))
    return service_account_kubeconfig(kube, tmp_path_factory.mktemp("sa"), "spin-system", "spin-gateway")


def test_the_shipped_rbac_is_enough_for_everything_the_gateway_does(kube, gateway_kubeconfig, projects, tmp_path):
    backend = KubernetesBackend(kubeconfig=str(gateway_kubeconfig), delete_timeout=90, poll=0.3)
    ref = projects.new("rbac")
    assert backend.existing(ref) is None
    assert {r.action for r in backend.apply(ref, compose_calls(tmp_path, WEB, ref))} == {"created"}
    settled_versions(kube, ref)
    again = backend.apply(ref, compose_calls(tmp_path, WEB, ref, backend.existing_objects(ref)))
    assert {r.action for r in again} == {"unchanged"}
    assert ref.project in {p.project for p in backend.list_projects()}
    assert {s.service for s in backend.status(ref)} == {"web", "worker"}
    # web's claim stays unbound on the test node (no provisioner): the scheduler's reason, and logs of worker.
    with pytest.raises(WaitTimeout, match="cannot be placed on any node"):
        backend.wait(ref, timeout=5)
    assert any("no logs" in line for line in backend.logs(ref, None, tail=5, since=None))
    smaller = WEB.split("  worker:")[0] + "volumes:\n  data: {}\n"
    pruned = backend.apply(ref, compose_calls(tmp_path, smaller, ref, backend.existing_objects(ref), name="b.yaml"))
    assert ("Deployment", "worker", "deleted") in {(r.kind, r.name, r.action) for r in pruned}
    backend.delete(ref, down_calls(backend, ref), volumes=False)
    backend.delete(ref, down_calls(backend, ref), volumes=True)
    assert backend.existing(ref) is None


def test_the_shipped_rbac_grants_nothing_beyond_projects(kube, gateway_kubeconfig):
    api = KubernetesBackend(kubeconfig=str(gateway_kubeconfig)).api
    for method, path in [("GET", "/api/v1/nodes"), ("DELETE", "/api/v1/namespaces/kube-system/pods/x"),
                         ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
                         ("GET", "/apis/apps/v1/daemonsets"),
                         # Leases (the project locks) only in the gateway's own namespace.
                         ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"),
                         ("GET", "/apis/coordination.k8s.io/v1/leases")]:
        with pytest.raises(KubeApiError) as info:
            api.request(method, path, what="probe", retry=False)
        assert info.value.status == 403, path


def test_a_verb_missing_from_the_role_is_a_clear_403(kube, projects, tmp_path):
    role, sa, binding = [d for d in shipped("rbac.yaml") if d["kind"] == "ClusterRole"] + [
        d for d in shipped("rbac.yaml") if d["kind"] == "ServiceAccount"] + [
        d for d in shipped("rbac.yaml") if d["kind"] == "ClusterRoleBinding"]
    for rule in role["rules"]:
        if "deployments" in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "delete"]
    role["metadata"]["name"] = binding["metadata"]["name"] = binding["roleRef"]["name"] = "spin-gateway-no-delete"
    sa["metadata"]["name"] = binding["subjects"][0]["name"] = "spin-gateway-no-delete"
    apply_manifests(kube, [*shipped("namespace.yaml"), sa, role, binding])
    config = service_account_kubeconfig(kube, tmp_path, "spin-system", "spin-gateway-no-delete")
    backend = KubernetesBackend(kubeconfig=str(config), delete_timeout=30, poll=0.3)
    ref = projects.new("noverb")
    backend.apply(ref, compose_calls(tmp_path, WEB, ref))
    with pytest.raises(KubeApiError) as info:
        backend.delete(ref, down_calls(backend, ref), volumes=False)
    error = info.value
    assert error.status == 403 and error.reason == "Forbidden"
    assert 'cannot delete resource "deployments" in API group "apps"' in error.message
    assert "system:serviceaccount:spin-system:spin-gateway-no-delete" in error.message
    assert "ClusterRole" in error.hint and "rbac.yaml" in error.hint
