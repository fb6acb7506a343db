"""The cluster suite's fixtures: a real control plane (or SPIN_TEST_KUBECONFIG's cluster) and projects in it.

Tests that use the `kube` fixture get the `cluster` marker. In CI (CI=true)
the suite must run: missing binaries fail it, they never skip it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.cluster.controlplane import ControlPlane, find_binaries

_timings: dict[str, float] = {}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if "kube" in getattr(item, "fixturenames", ()) and here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


def pytest_terminal_summary(terminalreporter):
    if _timings:
        figures = ", ".join(f"{k} {v:.2f}s" for k, v in _timings.items())
        terminalreporter.write_line(f"cluster suite timings: {figures}")


@dataclass
class Cluster:
    kubeconfig: Path
    server: str
    local: ControlPlane | None = None
    timings: dict[str, float] = field(default_factory=lambda: _timings)

    def api_client(self, kubeconfig: Path | None = None):
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    def admin(self):
        """The admin's KubeApi: for setting up and inspecting, never for what the backend must do itself."""
        from spin_gateway.backends.kubernetes import KubeApi

        return KubeApi(self.api_client())


@pytest.fixture(scope="session")
def kube():
    external = os.environ.get("SPIN_TEST_KUBECONFIG")
    if external:
        data = yaml.safe_load(Path(external).read_text())
        ctx = next(c for c in data["contexts"] if c["name"] == data["current-context"])["context"]
        server = next(c for c in data["clusters"] if c["name"] == ctx["cluster"])["cluster"]["server"]
        yield Cluster(Path(external), server)
        return
    binaries = find_binaries()
    if isinstance(binaries, str):
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(binaries)
        pytest.skip(binaries)
    root = Path(tempfile.mkdtemp(prefix="spin-kube-"))
    plane = ControlPlane(root, binaries)
    try:
        plane.start()
    except Exception:
        plane.stop()
        raise
    _timings["control plane start"] = plane.start_seconds or 0.0
    build = Path(os.environ.get("SPIN_KUBE_CACHE", "/var/cache/spin-kube")) / "build-seconds"
    if build.is_file():
        _timings["control plane build (cached)"] = float(build.read_text().strip() or 0)
    try:
        yield Cluster(plane.admin_kubeconfig, plane.server, plane)
    finally:
        plane.stop()
        # etcd's data and the logs; SPIN_KEEP_KUBE_LOGS=1 keeps them to look into a failure.
        if not os.environ.get("SPIN_KEEP_KUBE_LOGS"):
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def no_kubelet(kube):
    """For tests that read the reasons pods stay Pending: only true of the kubelet-less control plane."""
    if kube.local is None:
        pytest.skip("SPIN_TEST_KUBECONFIG's cluster has nodes: pods do not stay Pending with the scheduler's reason")


@pytest.fixture
def backend(kube):
    from spin_gateway.backends.kubernetes import KubernetesBackend

    return KubernetesBackend(kubeconfig=str(kube.kubeconfig), delete_timeout=90, poll=0.3)


class Projects:
    """Unique project names for one test, and their namespaces removed afterwards whatever happened."""

    def __init__(self, kube: Cluster):
        self.kube = kube
        self.made: list[str] = []

    def new(self, stem: str = "t"):
        from spin_gateway.backends.base import ProjectRef

        name = f"{stem}-{uuid.uuid4().hex[:6]}"
        self.made.append(name)
        return ProjectRef(name, name, owner="alice", facility_project="astro")

    def cleanup(self) -> None:
        api = self.kube.admin()
        for ns in self.made:
            try:
                api.request("DELETE", f"/api/v1/namespaces/{ns}", what="clean up", retry=False)
            except Exception:
                pass  # already gone, or removed by the test itself


@pytest.fixture
def projects(kube):
    made = Projects(kube)
    yield made
    made.cleanup()


def compose_calls(tmp: Path, compose: str, ref, existing: set | None = None, name: str = "compose.yaml"):
    """The approved calls of `spin up` for this compose text: the real loader, translator and planner."""
    from spin_gateway.compose_loader import load_project, validate_model
    from spin_gateway.gateway_api import planning
    from spin_gateway.translate import to_kubernetes

    path = tmp / name
    path.write_text(compose)
    model = load_project([path], project_name=ref.project, environ={}).model
    labels = planning.project_labels(ref.project, ref.owner, ref.facility_project)
    translation = to_kubernetes(validate_model(model), project=ref.project, namespace=ref.namespace, labels=labels)
    plan = planning.up_plan(translation.objects, translation.notices, project=ref.project, namespace=ref.namespace,
                            owner=ref.owner, facility_project=ref.facility_project, existing=existing or set())
    return plan.calls


def down_calls(backend, ref):
    """The DELETE calls the gateway builds for `spin down` from what the backend says the project holds."""
    from spin_gateway.gateway_api import planning

    return planning.down_plan(backend.existing_objects(ref), project=ref.project, namespace=ref.namespace, owner=ref.owner,
                              facility_project=ref.facility_project).calls


def resource_versions(kube: Cluster, ref) -> dict[tuple[str, str], str]:
    """(kind, name) -> resourceVersion of everything in the project's namespace, read as the admin."""
    api = kube.admin()
    out = {}
    ns = api.get(f"/api/v1/namespaces/{ref.namespace}", "read")
    if ns:
        out[("Namespace", ref.namespace)] = ns["metadata"]["resourceVersion"]
    for api_version, kind in [("apps/v1", "Deployment"), ("batch/v1", "Job"), ("v1", "Service"),
                              ("v1", "PersistentVolumeClaim"), ("v1", "ConfigMap"), ("v1", "Secret"),
                              ("networking.k8s.io/v1", "NetworkPolicy")]:
        res = api.resource(api_version, kind)
        for item in api.request("GET", res.path(ref.namespace), what="list").get("items", []):
            out[(kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return out


def settled_versions(kube: Cluster, ref, quiet: float = 1.5, timeout: float = 30) -> dict[tuple[str, str], str]:
    """resourceVersions once the controllers have stopped writing status (no change for `quiet` seconds)."""
    deadline = time.monotonic() + timeout
    last = resource_versions(kube, ref)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = resource_versions(kube, ref)
        if now == last:
            return now
        last = now
    raise AssertionError(f"project {ref.project} never settled: controllers kept writing for {timeout}s")


def apply_manifests(kube: Cluster, documents: list[dict]) -> None:
    """Server-side apply arbitrary manifests as the cluster's admin (what `kubectl apply --server-side` does)."""
    api = kube.admin()
    for doc in documents:
        res = api.resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        api.request("PATCH", res.path(meta.get("namespace"), meta["name"]), what="apply", body=doc,
                    content_type="application/apply-patch+yaml", query={"fieldManager": "spin-tests", "force": "true"})


def service_account_kubeconfig(kube: Cluster, tmp: Path, namespace: str, name: str) -> Path:
    """A kubeconfig that authenticates as the service account (a TokenRequest token), nothing else."""
    from tests.cluster.controlplane import kubeconfig

    api = kube.admin()
    answer = api.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", what="token",
                         body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                               "spec": {"expirationSeconds": 3600}})
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = kubeconfig(kube.server, Path(cluster.get("certificate-authority", "")),
                        token=answer["status"]["token"], user=name)
    if "certificate-authority-data" in cluster:
        config["clusters"][0]["cluster"] = {"server": kube.server,
                                            "certificate-authority-data": cluster["certificate-authority-data"]}
    path = tmp / f"{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def eventually(check, timeout: float = 30, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(every)
