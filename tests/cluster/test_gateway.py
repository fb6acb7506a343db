"""The whole path against the real control plane: CLI -> gateway -> policy -> audit -> Kubernetes.

The gateway authenticates to the cluster with the shipped RBAC's service
account only (a token in a kubeconfig), as it would when run in the cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from spin_gateway.audit.verify import verify
from tests.cluster.conftest import apply_manifests, service_account_kubeconfig
from tests.e2e.conftest import ROOT, SPIN, LiveGateway, free_port

EXAMPLE = ROOT / "examples/science-gateway/compose.yaml"


class KubeGateway(LiveGateway):
    """`spin gateway serve --backend kubernetes --kubeconfig ...` as a process on loopback."""

    def __init__(self, tmp: Path, kubeconfig: Path):  # noqa: super().__init__ starts a podman gateway
        import httpx

        self.tmp, self.port = tmp, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = tmp / "state"
        self.audit_log = self.state / "audit.log"
        self.log = open(tmp / "gateway.log", "w")
        self.proc = subprocess.Popen(
            [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "kubernetes",
             "--kubeconfig", str(kubeconfig), "--context", "spin-test", "--users", str(ROOT / "examples/users.yaml"),
             "--policy-dir", str(ROOT / "rego"), "--audit-log", str(self.audit_log), "--state-dir", str(self.state)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
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
               for d in yaml.safe_load_all((ROOT / "examples/kubernetes" / name).read_text()) if d]
    apply_manifests(kube, shipped)
    config = service_account_kubeconfig(kube, tmp_path, "spin-system", "spin-gateway")
    live = KubeGateway(tmp_path, config)
    yield live
    live.stop()


@pytest.fixture
def portal_dir():
    # The project's global file system, where the site's policy lets astro members mount from.
    path = Path(f"/global/cfs/projects/astro/spin-kube-{uuid.uuid4().hex[:8]}/portal")
    path.mkdir(parents=True)
    shutil.copytree(ROOT / "examples/science-gateway/portal", path, dirs_exist_ok=True)
    yield path
    shutil.rmtree(path.parent)


def test_the_science_gateway_example_goes_up_converges_and_comes_down(kube, kube_gateway, projects, portal_dir):
    ref = projects.new("sg")
    env = {"PORTAL_DIR": str(portal_dir)}
    began = time.monotonic()
    up = kube_gateway.spin("-f", str(EXAMPLE), "-p", ref.project, "up", "--json", env=env)
    kube.timings["`spin up` of examples/science-gateway"] = time.monotonic() - began
    assert up.returncode == 0, up.stdout + up.stderr
    result = json.loads(up.stdout)
    assert result["status"] == "created"
    assert {(r["kind"], r["name"]) for r in result["results"]} >= {("Deployment", "portal"), ("Deployment", "worker")}

    # The policy's UID mapping reached the cluster: alice's pods run as alice (uid 1001).
    dep = kube.admin().get(f"/apis/apps/v1/namespaces/{ref.namespace}/deployments/worker", "read")
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 1001

    again = kube_gateway.spin("-f", str(EXAMPLE), "-p", ref.project, "up", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "unchanged", again.stdout

    ps = kube_gateway.spin("-p", ref.project, "ps", "--json")
    services = {s["service"]: s for s in json.loads(ps.stdout)["services"]}
    assert services["portal"]["desired"] == 1 and "127.0.0.1:18080->8080/tcp" in services["portal"]["ports"]

    if kube.local is not None:  # no kubelet: the pods stay Pending, with the scheduler's reason
        waited = kube_gateway.spin("-f", str(EXAMPLE), "-p", ref.project, "up", "--wait", "--timeout", "3", env=env)
        assert waited.returncode == 3
        assert "cannot be placed on any node: no nodes available to schedule pods" in waited.stderr

        logs = kube_gateway.spin("-p", ref.project, "logs", "worker", "--tail", "5")
        assert "no logs: pod worker-" in logs.stdout and "has not started on any node" in logs.stdout

    down = kube_gateway.spin("-p", ref.project, "down", "-v")
    assert down.returncode == 0, down.stderr
    assert kube.admin().get(f"/api/v1/namespaces/{ref.namespace}", "read") is None
    assert verify(kube_gateway.audit_log).ok
