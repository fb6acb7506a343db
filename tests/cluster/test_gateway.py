"""The whole path against the real control plane: CLI -> gateway -> policy -> audit -> Kubernetes.

The gateway authenticates to the cluster with the shipped RBAC's service
account only (a token in a kubeconfig), as it would when run in the cluster.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest

from spin_gateway.audit.verify import verify
from tests.e2e.conftest import ROOT

EXAMPLE = ROOT / "examples/science-gateway/compose.yaml"


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

    down = kube_gateway.spin("-p", ref.project, "down", "-v")
    assert down.returncode == 0, down.stderr
    assert kube.admin().get(f"/api/v1/namespaces/{ref.namespace}", "read") is None
    assert verify(kube_gateway.audit_log).ok
