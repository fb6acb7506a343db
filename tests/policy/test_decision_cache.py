"""Identical calls decided once (issue 18): the decision cache, as a job array and an attacker see it.

- a repeated `check` is answered from the cache, and every cached decision is audited, marked `cached`
  with the hash of its input (the same hash as the decision that was evaluated for it);
- a reload (here: the site admits a registry it refused) empties the cache, so the new rule decides;
- two users sending the same compose file for the same project name never share a decision;
- a library that calls a non-deterministic built-in (time.now_ns) has no cache, and says why; a comment
  or a string that only mentions one does not count.
"""

from __future__ import annotations

import json
import logging
import subprocess
import uuid

import pytest
import yaml
from fastapi.testclient import TestClient

from spin_gateway.audit.log import read_records
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.policy.determinism import OPA_NONDETERMINISTIC, analyse
from spin_gateway.policy.service import PolicyService
from tests.policy.test_real_opa import opa_binary

GLOBAL = {"type": "bind", "source": "/global/cfs/projects/astro/shared", "target": "/data"}
COMPOSE = {"name": "cached", "services": {"web": {"image": "registry.example.org/astro/web:1.0", "volumes": [GLOBAL]},
                        "proxy": {"image": "docker.io/library/nginx:1.27"}}}


@pytest.fixture
def live(tmp_path, rego, repo_root):
    settings = Settings(backend="manifests", manifests_dir=tmp_path / "manifests", users=repo_root / "examples/users.yaml",
                        policy_dir=rego, audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state",
                        policy_poll_seconds=0)
    app = build_app(settings)
    with TestClient(app) as client:
        def headers(user: str) -> dict[str, str]:
            return {"authorization": f"Bearer {app.state.signer.issue(user)[0]}"}
        yield client, headers, settings, rego


def _check(client, headers, project: str) -> dict:
    response = client.post(f"/v1/projects/{project}/check", json={"compose": COMPOSE}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _decision_records(settings, answer) -> dict[str, dict]:
    return {r["call_id"]: r for r in read_records(settings.audit_log)
            if r.get("request_id") == answer["request_id"] and r["type"] == "decision"}


def test_a_repeated_check_is_answered_from_the_cache_and_each_hit_is_audited(live):
    client, headers, settings, _rego = live
    project = f"array-{uuid.uuid4().hex[:8]}"
    first = _check(client, headers("alice"), project)
    second = _check(client, headers("alice"), project)

    assert not any(d["cached"] for d in first["decisions"])
    assert second["decisions"] and all(d["cached"] for d in second["decisions"])
    # the same answers, denial of Docker Hub included
    strip = [{k: v for k, v in d.items() if k not in ("cached", "duration_ms")} for d in first["decisions"]]
    assert strip == [{k: v for k, v in d.items() if k not in ("cached", "duration_ms")} for d in second["decisions"]]
    assert not second["allowed"]

    evaluated, answered = _decision_records(settings, first), _decision_records(settings, second)
    assert set(answered) == set(evaluated)
    for call_id, record in answered.items():
        assert record["cached"] is True
        assert record["input_hash"].startswith("sha256:")
        assert record["input_hash"] == evaluated[call_id]["input_hash"]  # finds the decision it repeats
        assert evaluated[call_id]["cached"] is False
    info = client.get("/v1/policy", headers=headers("alice")).json()["decision_cache"]
    assert info["enabled"] and info["hits"] >= len(answered)


def test_two_users_with_the_same_compose_never_share_a_decision(live):
    client, headers, _settings, _rego = live
    project = f"shared-{uuid.uuid4().hex[:8]}"
    alice = _check(client, headers("alice"), project)
    bob = _check(client, headers("bob"), project)
    assert not any(d["cached"] for d in bob["decisions"])
    hashes = {d["input_hash"] for d in alice["decisions"]}
    assert hashes.isdisjoint(d["input_hash"] for d in bob["decisions"])
    # each runs on the global file system as themselves (uid-mapping patches), never as the other
    web = next(d for d in bob["decisions"] if d["name"] == "web" and d["kind"] == "Deployment")
    assert {"op": "add", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1002} in web["patches"]
    assert "1001" not in json.dumps(web["patches"])


def test_the_same_object_for_another_user_is_decided_again(policy_service, repo_root):
    """The attack on the key itself: bob replays alice's exact object; only the identity differs."""
    from spin_gateway.compose_loader import validate_model
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.admission_input import admission_input
    from spin_gateway.translate import to_kubernetes
    from spin_gateway.vocabulary.types import Call, Plan

    users = UsersFileProvider(repo_root / "examples/users.yaml")
    project = f"replay-{uuid.uuid4().hex[:8]}"
    labels = {"spin.io/project": project, "spin.io/owner": "alice", "spin.io/facility-project": "astro"}
    objects = to_kubernetes(validate_model(COMPOSE), project=project, namespace=project, labels=labels).objects
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "web")
    plan = Plan(project=project, namespace=project, owner="alice", facility_project="astro", calls=[])
    call = Call(id="001", operation="CREATE", object=web)
    decided = {}
    for user in ("alice", "alice", "bob"):
        inp = admission_input(call, users.lookup(user), plan, dry_run=True)
        decided.setdefault(user, []).append(policy_service.decide(call.id, call.operation, call.kind, call.name, inp))
    assert [d.cached for d in decided["alice"]] == [False, True]
    bob = decided["bob"][0]
    assert not bob.cached and bob.input_hash != decided["alice"][0].input_hash
    assert {"op": "add", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1002} in bob.patches


def test_a_reload_empties_the_cache_so_the_new_revision_decides(live):
    client, headers, settings, rego = live
    project = f"reload-{uuid.uuid4().hex[:8]}"
    _check(client, headers("alice"), project)
    before = _check(client, headers("alice"), project)
    assert all(d["cached"] for d in before["decisions"]) and not before["allowed"]

    site = yaml.safe_load((rego / "site.yaml").read_text())
    site["registries"].append("docker.io/library")  # security staff admit Docker Hub's library images
    (rego / "site.yaml").write_text(yaml.safe_dump(site))
    reloaded = client.post("/v1/policy/reload", headers=headers("carol"))
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["decision_cache"]["entries"] == 0

    after = _check(client, headers("alice"), project)
    assert after["allowed"], after["decisions"]
    assert not any(d["cached"] for d in after["decisions"])
    assert after["policy_revision"] != before["policy_revision"]
    record = [r for r in read_records(settings.audit_log) if r["type"] == "reload"][-1]
    assert record["decision_cache"] == "on"


CLOCK_RULE = """package spin.rules.office_hours

import rego.v1

# Only during office hours: a decision that depends on when it is asked.
warn contains "outside office hours" if {
\t[hour, _, _] := time.clock(time.now_ns())
\thour > 18
}
"""

MENTION_ONLY = """package spin.rules.mentions

import rego.v1

# time.now_ns() and rand.intn("x", 10) are named here, in a comment, and below in a string: never called.
warn contains "http.send is not used here" if {
\tinput.request.kind.kind == "NoSuchKind"
}
"""


def test_a_library_calling_time_now_ns_has_no_cache_and_says_why(rego, caplog):
    (rego / "office_hours.rego").write_text(CLOCK_RULE)
    with caplog.at_level(logging.WARNING, logger="spin.policy"):
        service = PolicyService(rego)
    try:
        info = service.decision_cache
        assert info["enabled"] is False
        assert "office_hours.rego calls time.now_ns" in info["reason"]
        assert any("decision cache off" in r.message and "time.now_ns" in r.getMessage() for r in caplog.records)
        inp = {"request": {"kind": {"kind": "Namespace"}, "operation": "CREATE", "object": {"kind": "Namespace"}}}
        decided = [service.decide("1", "CREATE", "Namespace", "n", inp) for _ in range(2)]
        assert not any(d.cached or d.input_hash for d in decided)
    finally:
        service.close()


def test_a_comment_or_a_string_naming_a_builtin_does_not_turn_the_cache_off(rego):
    (rego / "mentions.rego").write_text(MENTION_ONLY)
    modules = {p.relative_to(rego).as_posix(): p.read_text() for p in rego.rglob("*.rego")
               if not p.name.endswith("_test.rego")}
    assert analyse(modules).deterministic
    assert not analyse({**modules, "office_hours.rego": CLOCK_RULE}).deterministic


@pytest.mark.parametrize("body, called", [
    ("x := rand.intn(\"seed\", 6)", "rand.intn"),
    ("f(u) := http.send({\"method\": \"get\", \"url\": u})", "http.send"),
    ("x if { uuid.rfc4122(\"k\") != \"\" }", "uuid.rfc4122"),
    ("x := opa.runtime().env", "opa.runtime"),
])
def test_each_kind_of_call_is_found(body, called):
    verdict = analyse({"m.rego": f"package m\n\nimport rego.v1\n\n{body}\n"})
    assert not verdict.deterministic and called in verdict.reason


def test_the_list_is_what_opa_itself_marks_nondeterministic():
    opa = opa_binary()
    out = subprocess.run([opa, "capabilities", "--current"], capture_output=True, text=True, check=True).stdout
    marked = {b["name"] for b in json.loads(out)["builtins"] if b.get("nondeterministic")}
    assert marked == set(OPA_NONDETERMINISTIC)


def test_a_job_arrays_first_wave_evaluates_each_input_once(rego, monkeypatch):
    """Twenty identical prologues at the same moment: one evaluation, nineteen answers from it."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    service = PolicyService(rego)
    evaluated = []
    real = service.evaluate

    def slow_evaluate(policy_input, engine=None, inline=False):
        evaluated.append(1)
        time.sleep(0.2)  # still evaluating when the others ask
        return real(policy_input, engine, inline)

    monkeypatch.setattr(service, "evaluate", slow_evaluate)
    inp = {"request": {"kind": {"kind": "Namespace"}, "operation": "CREATE", "object": {"kind": "Namespace"}},
           "user": {"name": "alice", "uid": 1001}}
    start = threading.Barrier(20)

    def ask(i):
        start.wait()
        return service.decide(str(i), "CREATE", "Namespace", "n", inp)

    try:
        with ThreadPoolExecutor(20) as pool:
            decided = list(pool.map(ask, range(20)))
    finally:
        service.close()
    assert len(evaluated) == 1
    assert sorted(d.cached for d in decided) == [False] + [True] * 19
    assert len({d.input_hash for d in decided}) == 1
