"""The security staff's commands: policy test, describe, and check as another user through the gateway."""

from __future__ import annotations

import json
import re
import shutil

import yaml
from typer.testing import CliRunner

from spin_gateway.cli.main import app


def _run(*args):
    return CliRunner().invoke(app, list(args))


def test_policy_test_prints_each_result_and_fails_on_one_failure(repo_root, tmp_path):
    rego = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", rego)
    ok = _run("policy", "test", str(rego))
    assert ok.exit_code == 0, ok.output
    lines = [ln for ln in ok.output.splitlines() if ln.startswith("PASS: spin.")]
    assert any("spin.rules.global_fs_test.test_dot_dot_does_not_get_around_a_rule (global_fs/policy_test.rego:" in ln
               for ln in lines)
    samples = [ln for ln in ok.output.splitlines() if ln.startswith("PASS: sample ")]
    assert "PASS: sample registries/samples/denied_docker_hub.yaml (as alice): expected denied by registries, " \
           "denied by registries" in samples
    assert f"{len(lines)} passed, 0 failed; samples: {len(samples)} as expected, 0 not" in ok.output

    # a test that no longer holds: named, where it stopped, and the values it compared
    test = rego / "registries" / "policy_test.rego"
    test.write_text(test.read_text().replace('image("quay.io/evil/miner:1")', 'image("localhost/spin/miner:1")')
                    .replace('count(registries.deny) == 1 with input as image("localhost/spinner/busybox:1")',
                             'count(registries.deny) == 2 with input as image("localhost/spinner/busybox:1")'))
    bad = _run("policy", "test", str(rego), "--quiet", "--run", "registries")
    assert bad.exit_code == 1
    out = bad.output.splitlines()
    at = out.index(next(ln for ln in out if "FAIL: spin.rules.registries_test.test_other_registry_is_denied" in ln))
    assert out[at + 1].strip().startswith("registries/policy_test.rego:")
    assert "some v in registries.deny" in out[at + 1]
    assert "no value makes it true" in out[at + 2]
    at = out.index(next(ln for ln in out if "FAIL: spin.rules.registries_test.test_look_alike_repository_is_denied" in ln))
    assert 'count(registries.deny) == 2 with input as image("localhost/spinner/busybox:1")' in out[at + 1]
    assert out[at + 2].strip() == "expected 2, got 1"
    assert "PASS:" not in bad.output and "2 failed" in bad.output


def test_a_failing_sample_says_what_it_expected_and_what_decided(repo_root, tmp_path):
    rego = tmp_path / "site-policy"
    shutil.copytree(repo_root / "rego", rego)
    # the site's own sample, wrongly named allowed: spin policy test decides the samples of the folder it is given
    sample = rego / "registries" / "samples" / "allowed_quay_mirror.yaml"
    sample.write_text((rego / "registries" / "samples" / "denied_docker_hub.yaml").read_text())
    result = _run("policy", "test", "--policy-dir", str(rego), "-q", "--users", str(repo_root / "examples/users.yaml"))
    assert result.exit_code == 1
    assert "FAIL: sample registries/samples/allowed_quay_mirror.yaml (as alice): expected allowed, denied by registries" \
        in result.output
    assert "[registries]" in result.output
    assert re.search(r"\n\d+ passed, 0 failed; samples: \d+ as expected, 1 not\n", result.output)
    as_json = json.loads(_run("policy", "test", "--policy-dir", str(rego), "--json").stdout)
    assert as_json["samples_failed"] == 1 and as_json["failed"] == 0


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


def test_policy_eval_decides_a_convert_folder_and_every_document(repo_root, tmp_path, monkeypatch):
    users = str(repo_root / "examples/users.yaml")
    rego = str(repo_root / "rego")
    folder = tmp_path / "objects"
    made = _run("convert", "-f", str(repo_root / "examples/science-gateway/compose.yaml"), "-o", str(folder))
    assert made.exit_code == 0, made.output
    written = sorted(folder.glob("*.yaml"))
    result = _run("policy", "eval", str(folder), "--as", "alice", "--users", users, "--policy-dir", rego, "--json")
    decided = json.loads(result.stdout)["decisions"]
    assert [f"{d['kind']}/{d['name']}" for d in decided] == \
        [f"{(o := yaml.safe_load(p.read_text()))['kind']}/{o['metadata']['name']}" for p in written]

    # several objects in one file: each decided when separated by ---, refused (naming the line) when run together
    one, two = (yaml.safe_dump(yaml.safe_load(p.read_text())) for p in written[1:3])
    (tmp_path / "separated.yaml").write_text(one + "---\n" + two)
    both = _run("policy", "eval", str(tmp_path / "separated.yaml"), "--as", "alice", "--users", users, "--policy-dir", rego)
    assert len([ln for ln in both.output.splitlines() if ln.startswith(("allow ", "deny "))]) == 2
    assert "2 object(s) decided as alice" in both.output
    (tmp_path / "run-together.yaml").write_text(one + two)
    joined = _run("policy", "eval", str(tmp_path / "run-together.yaml"), "--as", "alice", "--users", users,
                  "--policy-dir", rego)
    assert joined.exit_code == 2
    assert f"run-together.yaml, line {one.count(chr(10)) + 1}" in joined.output and "without a `---`" in joined.output

    # outside a spin checkout there is no demo users file to fall back on: the error names the flag
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPIN_USERS", raising=False)
    lost = _run("policy", "eval", str(folder), "--as", "alice", "--policy-dir", rego)
    assert lost.exit_code == 2 and "--users FILE" in lost.output and "unavailable" not in lost.output
    monkeypatch.setenv("SPIN_USERS", users)
    assert _run("policy", "eval", str(tmp_path / "separated.yaml"), "--as", "alice", "--policy-dir", rego).exit_code in (0, 1)
