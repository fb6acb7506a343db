"""Hot reload through the running gateway: a change serves within seconds, a broken one never does.

Every decision and its audit record name the revision (a hash of the policies and
the site data) that decided; a change that does not compile is refused, logged, and
the old revision keeps deciding (never fail open).
"""

from __future__ import annotations

import logging
import shutil
import time

import pytest
import yaml
from fastapi.testclient import TestClient

from spin_gateway.audit.log import read_records
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings

SAMPLE = "registries/samples/denied_docker_hub.yaml"


@pytest.fixture
def live(tmp_path, repo_root):
    rego = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", rego)
    settings = Settings(backend="manifests", manifests_dir=tmp_path / "manifests", users=repo_root / "examples/users.yaml",
                        policy_dir=rego, audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state",
                        policy_poll_seconds=0.2)
    app = build_app(settings)
    with TestClient(app) as client:
        token, _ = app.state.signer.issue("alice")
        yield rego, client, {"authorization": f"Bearer {token}"}, settings


def _eval(client, headers, rego):
    obj = yaml.safe_load((rego / SAMPLE).read_text())
    response = client.post("/v1/policy/eval", json={"objects": [obj]}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _record(settings, answer):
    return [r for r in read_records(settings.audit_log) if r.get("request_id") == answer["request_id"]][-1]


def test_a_site_data_change_serves_within_seconds_and_names_its_revision(live):
    rego, client, headers, settings = live
    before = _eval(client, headers, rego)
    assert not before["allowed"] and before["violations"][0]["rule"] == "registries"
    assert _record(settings, before)["policy_revision"] == before["revision"]

    # security staff admit Docker Hub's library images
    site = yaml.safe_load((rego / "site.yaml").read_text())
    site["registries"].append("docker.io/library")
    (rego / "site.yaml").write_text(yaml.safe_dump(site))
    assert _wait_for(lambda: client.get("/v1/policy", headers=headers).json()["revision"] != before["revision"])

    after = _eval(client, headers, rego)
    assert after["allowed"]
    assert after["revision"] != before["revision"]
    assert _record(settings, after)["policy_revision"] == after["revision"]


def test_a_broken_change_is_logged_and_the_old_revision_keeps_deciding(live, caplog):
    rego, client, headers, settings = live
    before = _eval(client, headers, rego)
    rule = rego / "registries" / "policy.rego"
    good = rule.read_text()
    with caplog.at_level(logging.ERROR, logger="spin.policy"):
        rule.write_text("package spin.rules.registries\ndeny contains v if {\n")
        assert _wait_for(lambda: client.get("/v1/policy", headers=headers).json()["last_reload_error"])
    info = client.get("/v1/policy", headers=headers).json()
    assert info["revision"] == before["revision"]
    assert "registries/policy.rego" in info["last_reload_error"]
    assert any("registries/policy.rego" in r.getMessage() and before["revision"] in r.getMessage()
               for r in caplog.records)
    assert "policy_reload" in client.get("/readyz").json()["checks"]

    # still refused by the old registries rule: a broken rule does not fail open
    during = _eval(client, headers, rego)
    assert not during["allowed"] and during["violations"][0]["rule"] == "registries"
    assert during["revision"] == before["revision"] == _record(settings, during)["policy_revision"]

    # the good file again: the error clears, and the same revision serves on
    rule.write_text(good)
    assert _wait_for(lambda: client.get("/v1/policy", headers=headers).json()["last_reload_error"] is None)
    assert client.get("/v1/policy", headers=headers).json()["revision"] == before["revision"]
