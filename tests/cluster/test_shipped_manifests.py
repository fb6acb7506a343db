"""examples/kubernetes/: what a facility applies to run the gateway in its cluster."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from spin_gateway.policy.bundle import load_bundle
from tests.cluster.conftest import apply_manifests, eventually

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "examples/kubernetes"


def make_configmaps():
    spec = importlib.util.spec_from_file_location("make_configmaps", FOLDER / "make-configmaps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_policies_configmap_holds_every_module_and_loads_as_the_same_policy(tmp_path):
    cm = make_configmaps().policies_configmap(ROOT / "rego", None)
    # What kubelet makes of the ConfigMap: one file per key.
    for key, text in cm["data"].items():
        (tmp_path / key).write_text(text)
    mounted = load_bundle(tmp_path, tmp_path / "site.yaml")
    shipped = load_bundle(ROOT / "rego")
    assert sorted(mounted.modules.values()) == sorted(shipped.modules.values())
    assert mounted.site == shipped.site
    assert not any(key.endswith("_test.rego") for key in cm["data"])


def test_the_shipped_manifests_are_accepted_by_the_api_server_and_make_two_gateway_pods(kube):
    documents = [d for name in ("namespace.yaml", "rbac.yaml", "gateway.yaml")
                 for d in yaml.safe_load_all((FOLDER / name).read_text()) if d]
    documents.append(make_configmaps().policies_configmap(ROOT / "rego", None))
    # Server-side apply checks every field against the server's schema: a typo is refused.
    apply_manifests(kube, documents)
    api = kube.admin()
    try:
        check_gateway_objects(api)
    finally:  # on a real cluster (SPIN_TEST_KUBECONFIG) leave no gateway pods behind
        for path in ("/apis/apps/v1/namespaces/spin-system/deployments/spin-gateway",
                     "/api/v1/namespaces/spin-system/services/spin-gateway",
                     "/api/v1/namespaces/spin-system/persistentvolumeclaims/spin-state",
                     "/api/v1/namespaces/spin-system/configmaps/spin-policies"):
            api.request("DELETE", path, what="clean up")


def check_gateway_objects(api):
    dep = api.get("/apis/apps/v1/namespaces/spin-system/deployments/spin-gateway", "read")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "spin-gateway"
    pods = eventually(lambda: api.request("GET", "/api/v1/namespaces/spin-system/pods", what="list",
                                          query={"labelSelector": "app.kubernetes.io/name=spin-gateway"})["items"])
    assert len(pods) == 2
    svc = api.get("/api/v1/namespaces/spin-system/services/spin-gateway", "read")
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "spin-gateway"}
