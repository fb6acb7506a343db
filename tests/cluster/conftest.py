"""The cluster suite's fixtures: a one-node Kubernetes that runs pods (or SPIN_TEST_KUBECONFIG's cluster).

tests/cluster/node.py brings the node up once per session (control plane, containerd,
kubelet, kube-proxy, CoreDNS) and takes it down again with the host put back.
Tests that use the `kube` fixture get the `cluster` marker. In CI (CI=true)
the suite must run: missing binaries fail it, they never skip it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.cluster.controlplane import find_binaries
from tests.cluster.node import LocalCluster
from tests.e2e.conftest import ROOT as _ROOT
from tests.e2e.conftest import SPIN as _SPIN
from tests.e2e.conftest import LiveGateway as _LiveGateway
from tests.e2e.conftest import free_port as _free_port

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
    local: LocalCluster | None = None
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
    # The workload images come from podman's store: they must be there before the node imports them.
    subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "scripts/build-image.sh")], check=True)
    binaries = find_binaries()
    if isinstance(binaries, str):
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(binaries)
        pytest.skip(binaries)
    # Under /var/lib: containerd's overlay snapshots need a file system that supports them (not tmpfs).
    base = Path("/var/lib/spin-kube-test")
    base.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    cluster = LocalCluster(root, binaries)
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    _timings.update(cluster.timings)
    cache = Path(os.environ.get("SPIN_KUBE_CACHE", "/var/cache/spin-kube"))
    for build in sorted(cache.glob("*/build-seconds")):
        _timings[f"build {build.parent.name}"] = float(build.read_text().strip() or 0)
    try:
        yield Cluster(cluster.admin_kubeconfig, cluster.server, cluster)
    finally:
        problems = cluster.stop()
        # etcd's data and the logs; SPIN_KEEP_KUBE_LOGS=1 keeps them to look into a failure.
        if not os.environ.get("SPIN_KEEP_KUBE_LOGS"):
            shutil.rmtree(root, ignore_errors=True)
        assert not problems, f"the node did not leave the host as it found it: {problems}"


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
                # A busybox `sleep` as PID 1 ignores SIGTERM: without a short grace each pod waits out its own.
                api.request("DELETE", f"/api/v1/namespaces/{ns}/pods", what="clean up", retry=False,
                            body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 1})
            except Exception:
                pass
            try:
                api.request("DELETE", f"/api/v1/namespaces/{ns}", what="clean up", retry=False)
            except Exception:
                pass  # already gone, or removed by the test itself
        if self.kube.local is not None:
            # One node with 2 cores: the next test's pods need the CPU these still hold.
            eventually(lambda: all(api.get(f"/api/v1/namespaces/{ns}", "read") is None for ns in self.made),
                       timeout=90, every=0.5)


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


def kubectl(kube: Cluster, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """The real kubectl (built with the cluster) as the admin: exec, logs, port-forward."""
    tool = kube.local.bin["kubectl"] if kube.local else shutil.which("kubectl")
    out = subprocess.run([tool, f"--kubeconfig={kube.kubeconfig}", *args], capture_output=True, text=True,
                         timeout=timeout)
    if check and out.returncode:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out


def pods_of(kube: Cluster, namespace: str, service: str | None = None) -> list[dict]:
    """The running pods of a project (or one service), as the admin reads them."""
    selector = f"spin.io/service={service}" if service else ""
    items = kube.admin().request("GET", f"/api/v1/namespaces/{namespace}/pods", what="list",
                                 query={"labelSelector": selector} if selector else None)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def exec_in(kube: Cluster, pod: dict, *command: str, container: str | None = None) -> str:
    meta = pod["metadata"]
    args = ["exec", "-n", meta["namespace"], meta["name"]] + (["-c", container] if container else []) + ["--", *command]
    return kubectl(kube, *args).stdout


class KubeGateway(_LiveGateway):
    """`spin gateway serve --backend kubernetes --kubeconfig ...` as a process on loopback."""

    def __init__(self, tmp: Path, kubeconfig: Path):  # not super().__init__: that starts a podman gateway
        import httpx

        self.tmp, self.port = tmp, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_secret = f"spin-tokens-{uuid.uuid4().hex[:8]}"
        self.state = tmp / "state"
        self.audit_log = self.state / "audit.log"
        self.log = open(tmp / "gateway.log", "w")
        self.proc = subprocess.Popen(
            [*_SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "kubernetes",
             "--kubeconfig", str(kubeconfig), "--context", "spin-test", "--users", str(_ROOT / "examples/users.yaml"),
             "--policy-dir", str(_ROOT / "rego"), "--audit-log", str(self.audit_log), "--state-dir", str(self.state),
             # A token registry (Secret) of its own: gateways of other tests on the same cluster never share it.
             "--token-secret", self.token_secret],
            cwd=_ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gateway did not start: {(tmp / 'gateway.log').read_text()[-2000:]}")


@pytest.fixture
def kube_gateway(kube, tmp_path):
    shipped = [d for name in ("namespace.yaml", "rbac.yaml")
               for d in yaml.safe_load_all((_ROOT / "examples/kubernetes" / name).read_text()) if d]
    apply_manifests(kube, shipped)
    config = service_account_kubeconfig(kube, tmp_path, "spin-system", "spin-gateway")
    live = KubeGateway(tmp_path, config)
    yield live
    live.stop()
    try:  # made only if the test created or revoked a token
        kube.admin().request("DELETE", f"/api/v1/namespaces/spin-system/secrets/{live.token_secret}",
                             what="clean up", retry=False)
    except Exception:
        pass
