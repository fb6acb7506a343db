"""The example job prologue and epilogue (shell with curl, and Python) against a live gateway with a service token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from spin_gateway.audit.log import read_records
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.podman
EXAMPLES = ROOT / "examples/job-prologue"


@pytest.fixture
def service_token(gateway, tmp_path):
    created = gateway.spin("token", "create", "slurm-prologue", "--for-project", "astro", "--json", user="carol")
    assert created.returncode == 0, created.stderr
    path = tmp_path / "prologue.token"
    path.write_text(json.loads(created.stdout)["token"])
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("flavour", ["shell", "python"])
def test_prologue_starts_the_jobs_service_as_the_jobs_user_and_epilogue_removes_it(gateway, service_token, flavour):
    job = uuid.uuid4().hex[:8]
    env = {**os.environ, "SPIN_GATEWAY": gateway.url, "SPIN_TOKEN_FILE": str(service_token), "SLURM_JOB_ID": job,
           "SLURM_JOB_USER": "alice", "SPIN_WAIT_TIMEOUT": "60"}
    if flavour == "shell":
        prologue, epilogue = [str(EXAMPLES / "prologue.sh")], [str(EXAMPLES / "epilogue.sh")]
    else:
        prologue = [sys.executable, str(EXAMPLES / "prologue.py")]
        epilogue = [*prologue, "--down"]
    first = subprocess.run(prologue, env=env, capture_output=True, text=True, timeout=120)
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        answer = json.loads(first.stdout)
        assert answer["status"] == "created" and answer["services"][0]["ready"] == 1
        again = subprocess.run(prologue, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and json.loads(again.stdout)["status"] == "unchanged"
    except AssertionError:
        # leave no running job behind to hold its ports for the next test
        subprocess.run(epilogue, env=env, capture_output=True, timeout=120)
        raise

    records = [r for r in read_records(gateway.audit_log) if r.get("project") == f"job-{job}" and r["type"] == "decision"]
    assert records and all(r["token"]["kind"] == "service" and r["user"]["name"] == "alice" for r in records)
    assert service_token.read_text() not in gateway.audit_log.read_text()

    down = subprocess.run(epilogue, env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    pods = subprocess.run(["podman", "pod", "ps", "-q", "--filter", f"label=spin.io/project=job-{job}"],
                          capture_output=True, text=True)
    assert pods.stdout.strip() == ""
    # an epilogue that runs twice (node failure) is fine
    assert subprocess.run(epilogue, env=env, capture_output=True, text=True, timeout=60).returncode == 0


def test_prologue_for_a_user_outside_the_tokens_scope_is_refused(gateway, service_token):
    env = {**os.environ, "SPIN_GATEWAY": gateway.url, "SPIN_TOKEN_FILE": str(service_token),
           "SLURM_JOB_ID": uuid.uuid4().hex[:8], "SLURM_JOB_USER": "mallory"}
    result = subprocess.run([str(EXAMPLES / "prologue.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "may not act for mallory" in result.stdout


def test_prologue_whose_service_never_gets_ready_gives_up_at_its_timeout(gateway, service_token, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "job-service", "services": {"notebook": {
        "image": "localhost/spin/busybox:1.35", "command": ["sh", "-c", "echo cannot start >&2; exit 1"]}}}))
    job = uuid.uuid4().hex[:8]
    env = {**os.environ, "SPIN_GATEWAY": gateway.url, "SPIN_TOKEN_FILE": str(service_token), "SLURM_JOB_ID": job,
           "SLURM_JOB_USER": "alice", "SPIN_WAIT_TIMEOUT": "5", "SPIN_COMPOSE_JSON": str(broken)}
    try:
        result = subprocess.run([str(EXAMPLES / "prologue.sh")], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 4, result.stdout + result.stderr  # the workload failed, not the gateway
        body = json.loads(result.stdout)
        assert body["error"] == "WaitTimeout" and "not ready after 5s" in body["detail"] and body["hint"]
    finally:
        subprocess.run([str(EXAMPLES / "epilogue.sh")], env=env, capture_output=True, timeout=120)
