"""The same faults seen by a client of the gateway's API: a clear error, nothing forwarded, the refusal on record."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from spin_gateway.audit.log import read_records
from spin_gateway.audit.verify import verify
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings
from tests.faults.conftest import fill
from tests.faults.faults import FailOnNthWrite

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE = {"name": "demo", "services": {
    "web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]},
    "worker": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"]},
}}


def _gateway(tmp_path, audit_log, policy_dir, **extra):
    settings = Settings(backend="manifests", manifests_dir=tmp_path / "manifests",
                        users=os.path.join(ROOT, "examples/users.yaml"), policy_dir=policy_dir, audit_log=audit_log,
                        state_dir=tmp_path / "state", policy_poll_seconds=0, **extra)
    app = build_app(settings)
    token, _ = app.state.signer.issue("alice")
    return app, {"authorization": f"Bearer {token}"}


def test_a_policy_slower_than_the_policy_timeout_is_refused_naming_the_policy_error(tmp_path):
    from tests.faults.test_engine_faults import SLOW

    rego = tmp_path / "slow"
    rego.mkdir()
    (rego / "admission.rego").write_text(SLOW)
    app, auth = _gateway(tmp_path, tmp_path / "audit.log", rego, policy_timeout=0.2)
    with TestClient(app) as client:
        r = client.put("/v1/projects/demo", json={"compose": COMPOSE}, headers=auth)
    app.state.gateway.policy.close()
    assert r.status_code == 403 and r.json()["error"] == "PolicyDenied"
    assert "[policy-error]" in r.json()["detail"] and "took longer than 0.2s" in r.json()["detail"]
    assert not (tmp_path / "manifests").exists()
    decisions = [x for x in read_records(tmp_path / "audit.log") if x["type"] == "decision"]
    assert decisions and all(x["decision"] == "deny" for x in decisions)


def test_a_full_audit_disk_answers_503_and_forwards_nothing(tmp_path, small_fs, allow_all_dir):
    app, auth = _gateway(tmp_path, small_fs / "audit.log", allow_all_dir)
    with TestClient(app) as client:
        fill(small_fs)
        r = client.put("/v1/projects/demo", json={"compose": COMPOSE}, headers=auth)
        assert r.status_code == 503
        body = r.json()
        assert body["error"] == "AuditError" and "No space left on device" in body["detail"]
        assert "Nothing was forwarded" in body["hint"]
        assert not (tmp_path / "manifests").exists()
        os.remove(small_fs / "filler")
        assert client.put("/v1/projects/demo", json={"compose": COMPOSE}, headers=auth).status_code == 200
    assert verify(small_fs / "audit.log", key=(tmp_path / "state/audit.key").read_bytes().strip()).ok


@pytest.mark.parametrize("n", [2, 4])
def test_a_backend_failing_part_way_answers_502_says_it_rolled_back_and_up_again_converges(tmp_path, allow_all_dir, n):
    app, auth = _gateway(tmp_path, tmp_path / "audit.log", allow_all_dir)
    gateway = app.state.gateway
    real = gateway.backend
    with TestClient(app) as client:
        gateway.backend = FailOnNthWrite(real, n)
        r = client.put("/v1/projects/demo", json={"compose": COMPOSE}, headers=auth)
        assert r.status_code == 502
        assert "No space left on device" in r.json()["detail"] and "removed again" in r.json()["detail"]
        assert r.json()["data"]["rolled_back"] is True
        assert not list((tmp_path / "manifests").glob("demo/*"))
        gateway.backend = real
        first = client.put("/v1/projects/demo", json={"compose": COMPOSE}, headers=auth)
        again = client.put("/v1/projects/demo", json={"compose": COMPOSE}, headers=auth)
    assert first.status_code == 200 and first.json()["status"] == "created"
    assert again.status_code == 200 and again.json()["status"] == "unchanged"


def test_a_service_token_whose_creation_cannot_be_audited_is_never_registered(tmp_path, small_fs, allow_all_dir):
    settings = Settings(backend="manifests", manifests_dir=tmp_path / "manifests",
                        users=os.path.join(ROOT, "examples/users.yaml"), policy_dir=allow_all_dir,
                        audit_log=small_fs / "audit.log", state_dir=tmp_path / "state", policy_poll_seconds=0)
    app = build_app(settings)
    token, _ = app.state.signer.issue("carol")  # an admin
    admin = {"authorization": f"Bearer {token}"}
    request = {"name": "prologue", "projects": ["astro"], "operations": ["up", "down"], "ttl_seconds": 3600}
    with TestClient(app) as client:
        fill(small_fs)
        r = client.post("/v1/tokens", json=request, headers=admin)
        assert r.status_code == 503 and "token" not in r.json()
        os.remove(small_fs / "filler")
        listed = client.get("/v1/tokens", headers=admin)
        assert listed.status_code == 200 and listed.json() == []
        assert client.post("/v1/tokens", json=request, headers=admin).status_code == 201
        assert [t["name"] for t in client.get("/v1/tokens", headers=admin).json()] == ["prologue"]
