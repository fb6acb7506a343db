"""A reload is a transaction (issue #20): truncated, half-updated and linked folders never go live.

Before, a `registries/policy.rego` cut just before its `deny` rule compiled, was
loaded within 2 s, and every registry was allowed; a symlinked .rego was read
from outside the folder. Now the candidate is read as one snapshot (regular
files only), checked against the library's structure and its own Rego tests,
and swapped in one step; a refused candidate leaves the live revision deciding,
is audited once, and shows on /readyz, GET /v1/policy and `spin policy status`.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
import yaml
from fastapi.testclient import TestClient

from spin_gateway.audit import records as audit_records
from spin_gateway.audit.log import read_records
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.policy.bundle import load_bundle
from spin_gateway.policy.service import PolicyService
from spin_gateway.vocabulary.errors import PolicyLoadError

DOCKER_HUB = "registries/samples/denied_docker_hub.yaml"
PRIVILEGED = {"user": {"name": "a", "uid": 1, "gid": 1, "groups": []},
              "request": {"object": {"kind": "Pod", "spec": {"containers": [
                  {"name": "c", "image": "x", "securityContext": {"privileged": True}}]}}}}


@pytest.fixture
def service(rego):
    svc = PolicyService(rego)
    records: list[dict] = []
    svc.on_reload = lambda event: records.append(audit_records.policy_reload(**event))
    svc.records = records  # type: ignore[attr-defined]
    yield svc
    svc.close()


def _rules(service) -> set[str]:
    return {v.rule for v in service.decide("1", "CREATE", "Pod", "p", PRIVILEGED).violations}


def _cut_before(path, marker: str) -> None:
    source = path.read_text()
    path.write_text(source[:source.index(marker)])


def _refused(service, match: str) -> PolicyLoadError:
    before = service.revision
    with pytest.raises(PolicyLoadError, match=match) as info:
        service.reload()
    assert service.revision == before
    assert "no-privileged" in _rules(service)  # the live revision still decides
    return info.value


def test_a_rule_file_cut_before_its_deny_rule_is_refused(service, rego):
    _cut_before(rego / "no_privileged" / "policy.rego", "deny contains")
    _refused(service, r"no_privileged/policy.rego: rule package spin.rules.no_privileged defines no deny")
    [record] = service.records
    assert record["type"] == "reload" and record["decision"] == "deny"
    assert record["policy"]["live"] == service.revision and record["policy"]["candidate"]
    assert "defines no deny" in record["violations"][0]["message"]


def test_a_rule_file_cut_before_its_meta_is_refused(service, rego):
    path = rego / "no_privileged" / "policy.rego"
    source = path.read_text()
    start = source.index("meta := {")
    path.write_text(source[:start] + source[source.index("\n}\n", start) + 3:])
    _refused(service, "defines no meta")


def test_a_rule_that_loses_an_output_the_live_revision_has_is_refused(service, rego):
    # resources defines patch (the defaults it fills in); an edit that keeps deny and meta but loses it
    path = rego / "resources" / "policy.rego"
    path.write_text(path.read_text().replace("\npatch contains", "\nfilled contains"))
    _refused(service, "resources/policy.rego: rule package spin.rules.resources no longer defines patch, "
                      "which the live revision .* defines")


def test_a_half_updated_folder_is_refused_until_the_change_is_whole(service, rego):
    """The rule id changes in the rule and in its tests: with only the rule written, the tests still expect
    the old id and the candidate is refused; with both written it goes live."""
    live = service.revision
    rule = rego / "no_privileged" / "policy.rego"
    rule.write_text(rule.read_text().replace('"no-privileged"', '"privileged-container"'))
    _refused(service, "fails .* Rego tests: .*no_privileged_test")
    for test in (rego / "no_privileged" / "policy_test.rego", rego / "admission_test.rego"):
        test.write_text(test.read_text().replace('"no-privileged"', '"privileged-container"'))
    assert service.reload() is True
    assert "privileged-container" in _rules(service)
    assert service.last_reload_error is None
    assert service.records[-1]["decision"] == "allow"
    assert service.records[-1]["policy"] == {"old": live, "new": service.revision}


def test_a_site_data_file_cut_short_is_refused(service, rego):
    site = rego / "site.yaml"
    source = site.read_text()
    site.write_text(source[:source.index("\nregistries:")] + "\n")
    _refused(service, "site data lacks .*registries")


def test_a_linked_rego_file_leading_outside_the_folder_is_refused(service, rego, tmp_path):
    outside = tmp_path / "outside.rego"
    outside.write_text("package spin.rules.no_privileged_extra\nmeta := {\"id\": \"x\"}\ndeny := []\n")
    os.symlink(outside, rego / "no_privileged" / "extra.rego")
    error = _refused(service, r"no_privileged/extra.rego is a symbolic link \(to .*outside.rego\)")
    assert "regular files only" in error.hint


def test_a_linked_folder_and_a_linked_site_file_are_refused(service, rego, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(rego / "no_privileged", elsewhere)
    os.symlink(elsewhere, rego / "more_rules")
    _refused(service, "more_rules is a symbolic link")
    os.unlink(rego / "more_rules")
    shutil.move(rego / "site.yaml", tmp_path / "site.yaml")
    os.symlink(tmp_path / "site.yaml", rego / "site.yaml")
    _refused(service, "site.yaml is a symbolic link")


def test_a_world_writable_rule_file_is_refused(service, rego):
    path = rego / "no_privileged" / "policy.rego"
    path.write_text(path.read_text() + "\n# touched\n")
    os.chmod(path, 0o666)
    _refused(service, "may be written by anyone on this machine")


def test_a_package_outside_the_library_is_refused(service, rego):
    (rego / "no_privileged" / "extra.rego").write_text("package spin.config\nregistries := [\"docker.io\"]\n")
    _refused(service, "package spin.config is outside the library's packages")


def test_the_safe_way_a_release_folder_moved_into_place_by_one_rename(tmp_path, repo_root):
    """What docs/security-officer.md tells staff to do: write the new revision elsewhere, swap a link in one step."""
    releases = tmp_path / "releases"
    shutil.copytree(repo_root / "rego", releases / "r1")
    current = tmp_path / "current"
    os.symlink(releases / "r1", current)
    svc = PolicyService(current)
    try:
        first = svc.revision
        shutil.copytree(releases / "r1", releases / "r2")
        site = yaml.safe_load((releases / "r2" / "site.yaml").read_text())
        site["registries"].append("docker.io/library")
        (releases / "r2" / "site.yaml").write_text(yaml.safe_dump(site))
        os.symlink(releases / "r2", tmp_path / "next")
        os.replace(tmp_path / "next", current)  # one rename: the gateway sees r1 or r2, never a mix
        assert svc.reload() is True and svc.revision != first
        assert svc.revision == load_bundle(releases / "r2").revision
    finally:
        svc.close()


def _wait_for(predicate, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_through_the_gateway_a_refusal_keeps_deciding_is_audited_once_and_shows(tmp_path, repo_root):
    rego = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", rego)
    settings = Settings(backend="manifests", manifests_dir=tmp_path / "manifests", users=repo_root / "examples/users.yaml",
                        policy_dir=rego, audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state",
                        policy_poll_seconds=0.2, policy_timeout=30)  # decisions, not timeouts, on a loaded CI machine
    app = build_app(settings)
    with TestClient(app) as client:
        token, _ = app.state.signer.issue("carol")
        headers = {"authorization": f"Bearer {token}"}
        obj = yaml.safe_load((rego / DOCKER_HUB).read_text())
        live = client.get("/v1/policy", headers=headers).json()["revision"]

        # the issue's attack: registries cut just before its deny rule
        _cut_before(rego / "registries" / "policy.rego", "deny contains")
        assert _wait_for(lambda: client.get("/v1/policy", headers=headers).json()["last_reload_error"])
        time.sleep(1.5)  # several more polls of the same candidate
        info = client.get("/v1/policy", headers=headers).json()
        assert info["revision"] == live and info["refused_candidate"]
        assert "registries/policy.rego" in info["last_reload_error"]
        ready = client.get("/readyz")
        assert ready.status_code == 503  # the live revision still serves, but what is on disk does not load
        assert ready.json()["checks"]["policy_refused_candidate"] == info["refused_candidate"]
        decided = client.post("/v1/policy/eval", json={"objects": [obj]}, headers=headers).json()
        assert not decided["allowed"] and decided["violations"][0]["rule"] == "registries", decided["violations"]
        assert decided["revision"] == live
        refusals = [r for r in read_records(settings.audit_log) if r.get("type") == "reload"]
        assert len(refusals) == 1 and refusals[0]["decision"] == "deny"
        assert refusals[0]["policy"] == {"live": live, "candidate": info["refused_candidate"]}
        assert client.get("/v1/audit", headers=headers, params={"type": "reload"}).json()["items"][0]["decision"] == "deny"
        # POST /v1/policy/reload answers with the reason
        forced = client.post("/v1/policy/reload", headers=headers)
        assert forced.status_code == 500 and "defines no deny" in forced.json()["detail"]

        # the whole file back: the refusal clears and nothing new is recorded (same revision as live)
        shutil.copy(repo_root / "rego" / "registries" / "policy.rego", rego / "registries" / "policy.rego")
        assert _wait_for(lambda: client.get("/v1/policy", headers=headers).json()["last_reload_error"] is None)
        assert client.get("/v1/policy", headers=headers).json()["revision"] == live
        assert "policy_reload" not in client.get("/readyz").json()["checks"]
