"""The security staff's commands: policy test, describe, and check as another user through the gateway."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from spin_gateway.cli.main import app


def _run(*args):
    return CliRunner().invoke(app, list(args))


def test_policy_test_prints_each_result_and_fails_on_one_failure(repo_root, tmp_path):
    rego = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", rego)
    ok = _run("policy", "test", str(rego))
    assert ok.exit_code == 0, ok.output
    lines = [ln for ln in ok.output.splitlines() if ln.startswith("PASS: ")]
    assert any("spin.rules.global_fs_test.test_dot_dot_does_not_get_around_a_rule" in ln for ln in lines)
    assert f"{len(lines)} passed, 0 failed" in ok.output

    # a test that no longer holds: named, and the exit code says so
    test = rego / "registries" / "policy_test.rego"
    test.write_text(test.read_text().replace('image("quay.io/evil/miner:1")', 'image("localhost/spin/miner:1")'))
    bad = _run("policy", "test", str(rego), "--quiet", "--run", "registries")
    assert bad.exit_code == 1
    assert "FAIL: spin.rules.registries_test.test_other_registry_is_denied" in bad.output
    assert "PASS:" not in bad.output and "1 failed" in bad.output


def test_policy_describe_lists_every_rule_with_its_samples(repo_root):
    result = _run("policy", "describe", "--policy-dir", str(repo_root / "rego"), "--json")
    assert result.exit_code == 0, result.output
    library = json.loads(result.stdout)
    rules = {r["id"]: r for r in library["rules"]}
    assert {"no-privileged", "uid-mapping", "global-fs", "services"} <= set(rules)
    assert library["pod_security"] and len(library["revision"]) == 16
    gfs = rules["global-fs"]
    assert gfs["package"] == "spin.rules.global_fs" and gfs["profile"] == "site" and gfs["description"]
    assert {"file": "global_fs/samples/denied_home_of_another_user.yaml", "expect": "denied", "as": "bob"} in gfs["samples"]
    text = _run("policy", "describe", "--policy-dir", str(repo_root / "rego"))
    assert "global-fs  (site)" in text.output and "Pod Security profile enforced" in text.output


COMPOSE = {"name": "demo", "services": {"web": {
    "image": "localhost/spin/busybox:1.35", "command": ["sleep", "600"],
    "volumes": [{"type": "bind", "source": "/global/cfs/projects/astro/demo", "target": "/data"}]}}}


def test_an_admin_checks_a_compose_file_as_another_user(client, token_for):
    answer = client.post("/v1/projects/demo/check", json={"compose": COMPOSE, "as_user": "alice"},
                         headers=token_for("carol"))
    assert answer.status_code == 200, answer.text
    decisions = answer.json()["decisions"]
    web = next(d for d in decisions if d["kind"] == "Deployment")
    # decided for alice: her uid mapped in, her project's folder allowed
    assert web["allowed"]
    assert {"op": "add", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1001} in web["patches"]


def test_only_admins_check_as_another_user(client, token_for):
    answer = client.post("/v1/projects/demo/check", json={"compose": COMPOSE, "as_user": "bob"},
                         headers=token_for("alice"))
    assert answer.status_code == 403
    assert "only administrators" in answer.json()["detail"]


def test_the_same_compose_is_refused_for_a_user_outside_the_project(client, token_for):
    answer = client.post("/v1/projects/demo/check", json={"compose": COMPOSE, "as_user": "mallory"},
                         headers=token_for("carol"))
    assert answer.status_code == 200
    assert not answer.json()["allowed"]
    rules = {v["rule"] for d in answer.json()["decisions"] for v in d["violations"]}
    assert "global-fs" in rules
