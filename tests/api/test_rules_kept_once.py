"""Rules the gateway once wrote twice, tested where the two copies answered differently.

- Deciding as another user: `check` let a service token acting for an administrator decide as anyone (its
  scope held only for the user it named), while POST /v1/policy/eval refused it. Now both refuse.
- The default facility project: the gateway took an empty facility project as a name (refused for members,
  filed under "" for administrators) where `spin policy eval` took the default; and `spin policy eval`
  filed objects under any facility project named, where the gateway refused non-members. Now one rule.
"""

from __future__ import annotations

import pytest

from spin_gateway.audit.log import read_records
from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
from spin_gateway.policy.evaluate import evaluate_objects
from spin_gateway.vocabulary.errors import Forbidden

WEB = {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "600"]}}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "demo"},
       "spec": {"containers": [{"name": "c", "image": "localhost/spin/busybox:1.35"}]}}


def _service_token_for_carol(client, token_for) -> dict[str, str]:
    r = client.post("/v1/tokens", json={"name": "ops", "users": ["carol"], "operations": ["check", "read"]},
                    headers=token_for("carol"))
    assert r.status_code == 201, r.text
    return {"authorization": f"Bearer {r.json()['token']}", "x-spin-user": "carol"}


def test_a_service_token_acting_for_an_administrator_cannot_decide_as_another_user(client, token_for, settings):
    service = _service_token_for_carol(client, token_for)
    # what the token may do: decide for carol
    assert client.post("/v1/projects/demo/check", json={"compose": WEB}, headers=service).status_code == 200
    for path, body in (("/v1/projects/demo/check", {"compose": WEB, "as_user": "bob"}),
                       ("/v1/policy/eval", {"objects": [POD], "as_user": "bob"})):
        r = client.post(path, json=body, headers=service)
        assert r.status_code == 403, (path, r.text)
        assert "only administrators, with their own token" in r.json()["detail"]
    refused = [rec for rec in read_records(settings.audit_log) if rec["type"] == "access"]
    assert [(rec["user"]["name"], rec["token"]["kind"], rec["operation"]) for rec in refused] == \
        [("carol", "service", "check"), ("carol", "service", "policy-eval")]
    # nothing was decided for bob
    assert not [rec for rec in read_records(settings.audit_log) if rec["user"]["name"] == "bob"]
    # carol with her own token may, on both routes
    for path, body in (("/v1/projects/demo/check", {"compose": WEB, "as_user": "bob"}),
                       ("/v1/policy/eval", {"objects": [POD], "as_user": "bob"})):
        assert client.post(path, json=body, headers=token_for("carol")).status_code == 200, path


def test_an_empty_facility_project_means_the_default_one(client, token_for, settings):
    up = client.put("/v1/projects/demo", json={"compose": WEB, "facility_project": ""}, headers=token_for("alice"))
    assert up.status_code == 200, up.text
    assert up.json()["facility_project"] == "astro"  # alice's first facility project
    check = client.post("/v1/projects/other/check", json={"compose": WEB, "facility_project": ""},
                        headers=token_for("carol"))
    assert check.json()["facility_project"] == "carol"  # in no facility project: filed under her name, not ""
    decisions = [rec for rec in read_records(settings.audit_log) if rec["type"] == "decision"]
    assert decisions and all(rec["facility_project"] for rec in decisions)


def test_local_policy_eval_refuses_a_facility_project_the_gateway_refuses(client, token_for, settings, tmp_path,
                                                                          repo_root):
    import yaml

    objects = tmp_path / "pod.yaml"
    objects.write_text(yaml.safe_dump(POD))
    alice = UsersFileProvider(repo_root / "examples/users.yaml").lookup("alice")
    gateway = client.post("/v1/policy/eval", json={"objects": [POD], "facility_project": "climate"},
                          headers=token_for("alice"))
    assert gateway.status_code == 403 and "not a member of facility project 'climate'" in gateway.json()["detail"]
    refused = [rec for rec in read_records(settings.audit_log) if rec["type"] == "access"]
    assert [(rec["user"]["name"], rec["operation"]) for rec in refused] == [("alice", "policy-eval")]
    with pytest.raises(Forbidden, match="not a member of facility project 'climate'"):
        evaluate_objects(objects, alice, repo_root / "rego", facility_project="climate")
    # her own facility project, and none named, are decided alike
    mine = evaluate_objects(objects, alice, repo_root / "rego", facility_project="astro")
    default = evaluate_objects(objects, alice, repo_root / "rego", facility_project="")
    assert [d.model_dump(exclude={"duration_ms"}) for d in mine] == [d.model_dump(exclude={"duration_ms"}) for d in default]
