"""Every rule's samples, decided by `spin policy eval` and by the live gateway (POST /v1/policy/eval).

An allowed_ sample must be allowed by the whole library (patches applied and
decided again, as the interceptor does); a denied_ sample must be refused by
its own rule and by no other, so each sample shows exactly what its name says.
A rule package without a samples folder, or without both kinds, fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from spin_gateway.audit.log import read_records
from spin_gateway.cli.main import app as cli_app
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.policy.bundle import load_bundle
from spin_gateway.policy.describe import rule_packages
from spin_gateway.policy.samples import read_sample, samples_of

ROOT = Path(__file__).resolve().parents[2]
REGO = ROOT / "rego"
USERS = ROOT / "examples/users.yaml"

RULE_DIRS = sorted({(REGO / file).parent for file in rule_packages(load_bundle(REGO).modules).values()})
SAMPLES = sorted(p for d in RULE_DIRS for p in (d / "samples").glob("*.yaml"))


def _rule_id(rule_dir: Path) -> str:
    source = (rule_dir / "policy.rego").read_text()
    for line in source.splitlines():
        if '"id":' in line:
            return line.split('"id":', 1)[1].split('"')[1]
    raise AssertionError(f"{rule_dir}/policy.rego has no meta id")


def _id(p: Path) -> str:
    return p.relative_to(REGO).as_posix()


def test_the_library_has_every_rule_of_the_issue():
    ids = {_rule_id(d) for d in RULE_DIRS}
    assert {"no-privileged", "no-escalation", "capabilities", "host-namespaces", "volumes", "global-fs",
            "uid-mapping", "registries", "resources", "namespace", "services"} <= ids


@pytest.mark.parametrize("rule_dir", RULE_DIRS, ids=lambda d: d.relative_to(REGO).as_posix())
def test_every_rule_has_allowed_and_denied_samples(rule_dir):
    assert (rule_dir / "samples").is_dir(), f"{rule_dir.relative_to(ROOT)} has no samples/ folder"
    kinds = {s.expect for s in samples_of(rule_dir)}
    assert kinds == {"allowed", "denied"}, f"{rule_dir.relative_to(ROOT)}/samples has only {sorted(kinds)} samples"


def _expect(sample_path: Path, answer: dict) -> None:
    sample = read_sample(sample_path)
    rule = _rule_id(sample.rule_dir)
    rules = {v["rule"] for v in answer["violations"]}
    if sample.expect == "allowed":
        assert answer["allowed"], f"{_id(sample_path)} should be allowed, refused by {answer['violations']}"
    else:
        assert not answer["allowed"], f"{_id(sample_path)} should be refused by {rule}"
        assert rules == {rule}, f"{_id(sample_path)} should be refused by {rule} alone, got {answer['violations']}"
        assert all(v["message"] and v["path"].startswith("/") for v in answer["violations"])


def _eval_cli(sample_path: Path) -> tuple[int, dict]:
    sample = read_sample(sample_path)
    result = CliRunner().invoke(cli_app, ["policy", "eval", "-o", str(sample_path), "--as", sample.as_user,
                                          "--users", str(USERS), "--policy-dir", str(REGO), "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("sample_path", SAMPLES, ids=_id)
def test_sample_through_policy_eval(sample_path):
    code, answer = _eval_cli(sample_path)
    _expect(sample_path, answer)
    assert code == (0 if answer["allowed"] else 1)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    settings = Settings(backend="manifests", manifests_dir=tmp / "manifests", users=USERS, policy_dir=REGO,
                        audit_log=tmp / "audit.log", state_dir=tmp / "state", policy_poll_seconds=0)
    app = build_app(settings)
    with TestClient(app) as client:
        yield app, client, settings


@pytest.mark.parametrize("sample_path", SAMPLES, ids=_id)
def test_sample_through_the_gateway(gateway, sample_path):
    app, client, settings = gateway
    sample = read_sample(sample_path)
    token, _ = app.state.signer.issue(sample.as_user)
    obj = yaml.safe_load(sample_path.read_text())
    response = client.post("/v1/policy/eval", json={"objects": [obj]}, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    answer = response.json()
    _expect(sample_path, answer)
    # the same decision as `spin policy eval`, and the audit record names the rules and the revision
    _, local = _eval_cli(sample_path)
    assert (answer["allowed"], answer["violations"], answer["patches"]) == \
        (local["allowed"], local["violations"], local["patches"])
    record = [r for r in read_records(settings.audit_log) if r.get("request_id") == answer["request_id"]][-1]
    assert record["decision"] == ("allow" if answer["allowed"] else "deny")
    assert [v["rule"] for v in record["violations"]] == [v["rule"] for v in answer["violations"]]
    assert record["policy_revision"] == answer["revision"] == app.state.gateway.policy.revision
    assert record["user"]["name"] == sample.as_user
