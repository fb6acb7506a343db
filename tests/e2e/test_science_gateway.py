"""End to end: the example compose file becomes running containers through the policy interceptor."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from spin_gateway.audit.log import read_records
from spin_gateway.audit.verify import verify
from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.podman
EXAMPLE = ROOT / "examples/science-gateway/compose.yaml"


def _podman_json(*args):
    return json.loads(subprocess.run(["podman", *args, "--format", "json"], capture_output=True, text=True,
                                     check=True).stdout or "[]")


@pytest.fixture
def portal_dir():
    # The project's global file system, where the site's policy lets astro members mount from.
    path = Path(f"/global/cfs/projects/astro/spin-e2e-{uuid.uuid4().hex[:8]}/portal")
    path.mkdir(parents=True)
    shutil.copytree(ROOT / "examples/science-gateway/portal", path, dirs_exist_ok=True)
    for p in [path, *path.parents][:6]:
        p.chmod(0o755)
    (path / "index.html").chmod(0o644)
    # the worker's results folder, the project's (group astro, as scripts/demo.sh makes it)
    results = path.parent / "results"
    results.mkdir()
    shutil.chown(results, 1001, 5001)
    results.chmod(0o2775)
    yield path
    shutil.rmtree(path.parent)


def test_up_wait_serves_the_portal_and_down_removes_only_the_project(gateway, portal_dir):
    project = f"sg-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {"PORTAL_DIR": str(portal_dir), "PORTAL_PORT": str(port), "RESULTS_DIR": str(portal_dir.parent / "results")}
    # A bystander: an unrelated pod that `down` must not touch.
    bystander = f"bystander-{uuid.uuid4().hex[:6]}"
    subprocess.run(["podman", "pod", "create", "--name", bystander], check=True, capture_output=True)
    try:
        up = gateway.spin("-f", str(EXAMPLE), "-p", project, "up", "--wait", "--timeout", "90", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "created" in up.stdout

        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "Science gateway" in page.text

        # the containers run as alice (uid 1001), mapped by policy
        pods = _podman_json("pod", "ps", "--filter", f"label=spin.io/project={project}")
        assert {p["Labels"]["spin.io/service"] for p in pods} == {"portal", "worker"}
        assert all(p["Labels"]["spin.io/owner"] == "alice" for p in pods)
        ps = gateway.spin("-p", project, "ps", "--json")
        services = {s["service"]: s for s in json.loads(ps.stdout)["services"]}
        assert services["portal"]["ready"] == 1 and any(str(port) in p for p in services["portal"]["ports"])

        # idempotent
        again = gateway.spin("-f", str(EXAMPLE), "-p", project, "up", "--json", env=env)
        assert again.returncode == 0 and json.loads(again.stdout)["status"] == "unchanged"

        # the worker runs as alice and reaches the portal by its service name
        deadline = time.monotonic() + 20
        while True:
            logs = gateway.spin("-p", project, "logs", "worker", "--tail", "5")
            if "(portal: Science gateway)" in logs.stdout or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert "worker 1001: processed job" in logs.stdout
        # it mounts the project's folder, so it runs as alice, and its results land there as hers
        jobs = portal_dir.parent / "results" / "jobs.log"
        assert "worker 1001: processed job" in jobs.read_text()
        assert jobs.stat().st_uid == 1001
        assert "(portal: Science gateway)" in logs.stdout

        # every decision audited, chain intact
        records = list(read_records(gateway.audit_log))
        assert {r["decision"] for r in records if r["type"] == "decision"} == {"allow"}
        assert any(r["type"] == "forward" and r["backend_result"] == "created" for r in records)
        assert verify(gateway.audit_log).ok

        down = gateway.spin("-p", project, "down")
        assert down.returncode == 0, down.stderr
        assert _podman_json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []
        assert subprocess.run(["podman", "pod", "exists", bystander]).returncode == 0
    finally:
        subprocess.run(["podman", "pod", "rm", "-f", bystander], capture_output=True)
        gateway.spin("-p", project, "down", "-v")


def test_a_refused_up_exits_1_names_the_rule_and_runs_nothing(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  root-shell:\n    image: localhost/spin/busybox:1.35\n    privileged: true\n"
                       "    command: [sleep, '600']\n")
    project = f"bad-{uuid.uuid4().hex[:6]}"
    result = gateway.spin("-f", str(compose), "-p", project, "up")
    assert result.returncode == 1
    assert "no-privileged" in result.stderr
    assert _podman_json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []
    check = gateway.spin("-f", str(compose), "-p", project, "check")
    assert check.returncode == 1 and "deny" in check.stdout
