"""The admission webhook as the API server calls it: AdmissionReviews in, decisions, patches and audit out.

Reviews are built the way kube-apiserver sends them (admission.k8s.io/v1); tests/cluster/test_admission_webhook.py
has a real API server call the webhook over TLS.
"""

from __future__ import annotations

import base64
import json
import uuid

import jsonpatch
import pytest
import yaml

from spin_gateway.audit.log import read_records

GATEWAY_SA = "system:serviceaccount:spin-system:spin-gateway"


def review(obj: dict, user: str, *, operation: str = "CREATE", groups: list[str] | None = None,
           old: dict | None = None, namespace: str | None = None) -> dict:
    meta = obj.get("metadata", {})
    group, _, version = obj.get("apiVersion", "v1").rpartition("/")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": group, "version": version, "resource": obj["kind"].lower() + "s"},
        "name": meta.get("name", ""), "namespace": namespace if namespace is not None else meta.get("namespace", ""),
        "operation": operation, "userInfo": {"username": user, "groups": groups or ["system:authenticated"]},
        "object": None if operation == "DELETE" else obj, "oldObject": old if old is not None else (
            obj if operation == "DELETE" else None), "dryRun": False}}


def pod(name: str = "p", namespace: str = "demo", **spec) -> dict:
    container = {"name": "c", "image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"]}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [container], **spec}}


def project(client, token_for, user: str, name: str) -> None:
    compose = {"name": name, "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "1"]}}}
    r = client.put(f"/v1/projects/{name}", json={"compose": compose}, headers=token_for(user))
    assert r.status_code == 200, r.text


def answer(client, path: str, body: dict) -> dict:
    r = client.post(f"/v1/admission/{path}", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == body["request"]["uid"]
    return out["response"]


def admit(client, body: dict) -> dict:
    """As the API server does: the mutating pass, its patch applied, then the validating pass."""
    first = answer(client, "mutate", body)
    if not first["allowed"]:
        return first
    if first.get("patch"):
        body = json.loads(json.dumps(body))
        body["request"]["object"] = jsonpatch.apply_patch(body["request"]["object"],
                                                          json.loads(base64.b64decode(first["patch"])))
    return answer(client, "validate", body)


def admission_records(settings) -> list[dict]:
    return [r for r in read_records(settings.audit_log) if r.get("via") == "admission"]


def test_a_privileged_pod_is_refused_with_the_rules_message_and_audited(client, token_for, settings):
    project(client, token_for, "alice", "demo")
    body = review(pod(container={"securityContext": {"privileged": True}}), "alice")
    for phase in ("mutate", "validate"):
        out = answer(client, phase, body)
        assert out["allowed"] is False and out["status"]["code"] == 403
        assert "[no-privileged]" in out["status"]["message"] and "Pod/p" in out["status"]["message"]
        assert "patch" not in out
    last = admission_records(settings)[-1]
    assert last["decision"] == "deny" and last["user"] == {"name": "alice", "uid": 1001}
    assert last["kubernetes_user"]["username"] == "alice" and last["verb"] == "CREATE"
    assert last["object"] == {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "demo"}
    assert last["project"] == "demo" and last["facility_project"] == "astro"
    assert "no-privileged" in {v["rule"] for v in last["violations"]}


def test_a_pod_on_the_global_file_system_is_patched_to_the_callers_uid(client, token_for, settings):
    project(client, token_for, "alice", "demo")
    obj = pod(volumes=[{"name": "g", "hostPath": {"path": "/global/cfs/projects/astro"}}],
              container={"volumeMounts": [{"name": "g", "mountPath": "/data"}]})
    out = answer(client, "mutate", review(obj, "alice"))
    assert out["allowed"] is True and out["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(out["patch"]))
    patched = jsonpatch.apply_patch(obj, patch)
    assert patched["spec"]["securityContext"]["runAsUser"] == 1001
    assert patched["spec"]["securityContext"]["runAsGroup"] == 1001
    # the validating pass sees the mutated object: allowed as it is, nothing more to change
    after = answer(client, "validate", review(patched, "alice"))
    assert after["allowed"] is True and "patch" not in after
    # ...and refuses the object the mutation never reached, rather than let an undecided one be stored
    before = answer(client, "validate", review(obj, "alice"))
    assert before["allowed"] is False and "admission-unmutated" in before["status"]["message"]
    # run as someone else on the global file system: refused, naming the uid expected
    other = answer(client, "validate", review(jsonpatch.apply_patch(patched, [
        {"op": "replace", "path": "/spec/securityContext/runAsUser", "value": 1002}]), "alice"))
    assert other["allowed"] is False and "expected 1001" in other["status"]["message"]


def test_a_deployment_in_another_users_project_is_refused(client, token_for, settings):
    project(client, token_for, "mallory", "climate-x")  # mallory: facility project climate, alice is not in it
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "climate-x"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                      "metadata": {"labels": {"a": "b"}}, "spec": pod()["spec"]}}}
    out = answer(client, "validate", review(deployment, "alice"))
    assert out["allowed"] is False and "[namespace]" in out["status"]["message"]
    assert "climate" in out["status"]["message"]
    assert admit(client, review(deployment, "mallory"))["allowed"] is True


def test_unknown_users_and_namespaces_outside_every_project_are_refused_on_the_record(client, token_for, settings):
    project(client, token_for, "alice", "demo")
    unknown = answer(client, "validate", review(pod(), "eve"))
    assert unknown["allowed"] is False and "not known to the facility" in unknown["status"]["message"]
    system = answer(client, "validate", review(pod(), "system:serviceaccount:demo:default"))
    assert system["allowed"] is False and "not a facility user" in system["status"]["message"]
    outside = answer(client, "validate", review(pod(namespace="elsewhere"), "alice"))
    assert outside["allowed"] is False and "belongs to no spin project" in outside["status"]["message"]
    # the cluster's own machinery (a controller making a Deployment's pods) passes, on the record
    controller = answer(client, "validate", review(pod(), "system:serviceaccount:kube-system:replicaset-controller"))
    assert controller["allowed"] is True
    listed = answer(client, "validate", review(pod(namespace="kube-system"), "alice"))
    assert listed["allowed"] is True
    rules = [(r["decision"], r["passed_without_policy"], [v["rule"] for v in r["violations"]])
             for r in admission_records(settings)]
    assert rules == [("deny", False, ["admission-identity"]), ("deny", False, ["admission-identity"]),
                     ("deny", False, ["admission-namespace"]), ("allow", True, []), ("allow", True, [])]


def test_requested_by_is_believed_only_from_the_gateways_own_identity(client, token_for, settings):
    project(client, token_for, "alice", "demo")
    obj = pod(volumes=[{"name": "g", "hostPath": {"path": "/global/cfs/projects/astro"}}],
              container={"volumeMounts": [{"name": "g", "mountPath": "/data"}]})
    obj["metadata"]["annotations"] = {"spin.io/requested-by": "bob"}
    # from alice: ignored (decided as alice: her uid is patched in) and on the record
    out = answer(client, "mutate", review(obj, "alice"))
    patch = json.loads(base64.b64decode(out["patch"]))
    assert jsonpatch.apply_patch(obj, patch)["spec"]["securityContext"]["runAsUser"] == 1001
    record = admission_records(settings)[-1]
    assert record["user"]["name"] == "alice" and record["requested_by_ignored"] == "bob"
    # from the gateway's service account: decided for bob
    out = answer(client, "mutate", review(obj, GATEWAY_SA))
    assert jsonpatch.apply_patch(obj, json.loads(base64.b64decode(out["patch"])))["spec"]["securityContext"][
        "runAsUser"] == 1002
    record = admission_records(settings)[-1]
    assert record["user"]["name"] == "bob" and "requested_by_ignored" not in record
    # the gateway naming a user outside the project's facility project is refused like that user
    obj["metadata"]["annotations"] = {"spin.io/requested-by": "mallory"}
    assert answer(client, "validate", review(obj, GATEWAY_SA))["allowed"] is False
    # the gateway's own call without the annotation (an object from before it): the project's owner
    del obj["metadata"]["annotations"]
    out = answer(client, "mutate", review(obj, GATEWAY_SA))
    assert jsonpatch.apply_patch(obj, json.loads(base64.b64decode(out["patch"])))["spec"]["securityContext"][
        "runAsUser"] == 1001


def test_relabelling_another_projects_namespace_is_refused(client, token_for, settings):
    project(client, token_for, "mallory", "climate-y")
    old = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "climate-y", "labels": {
        "app.kubernetes.io/managed-by": "spin", "spin.io/project": "climate-y", "spin.io/owner": "mallory",
        "spin.io/facility-project": "climate"}}}
    new = json.loads(json.dumps(old))
    new["metadata"]["labels"].update({"spin.io/owner": "alice", "spin.io/facility-project": "astro"})
    out = answer(client, "validate", review(new, "alice", operation="UPDATE", old=old, namespace=""))
    assert out["allowed"] is False and "[namespace]" in out["status"]["message"]
    delete = answer(client, "validate", review(old, "alice", operation="DELETE", namespace=""))
    assert delete["allowed"] is False


def test_a_site_prefix_maps_oidc_usernames(client, token_for, settings, app, tmp_path, repo_root):
    site = yaml.safe_load((repo_root / "rego/site.yaml").read_text())
    site["admission"]["user_prefix"] = "oidc:"
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    from spin_gateway.gateway_api.app import build_app

    other = build_app(settings.model_copy(update={"site_data": path}))
    from fastapi.testclient import TestClient

    with TestClient(other) as c:
        project(c, lambda u: {"authorization": f"Bearer {other.state.signer.issue(u)[0]}"}, "alice", "demo")
        assert admit(c, review(pod(), "oidc:alice"))["allowed"] is True
        plain = answer(c, "validate", review(pod(), "alice"))
        assert plain["allowed"] is False and "oidc:<facility name>" in plain["status"]["message"]


@pytest.mark.parametrize("body", [
    {}, {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {}},
    {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {"uid": "1", "operation": "CONNECT"}},
    {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {
        "uid": "1", "operation": "CREATE", "kind": {"kind": "Pod"}, "userInfo": {"username": "alice"}}},
])
def test_what_is_not_an_admission_review_is_an_error_the_api_server_turns_into_a_refusal(client, body):
    r = client.post("/v1/admission/validate", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "UsageError"


def test_admission_records_hold_the_decision_fields_and_what_the_docs_add(client, token_for, settings, repo_root):
    from tests.api.test_audit_records import ADDED_BY_THE_LOG, _documented_decision_fields

    project(client, token_for, "alice", "demo")
    answer(client, "validate", review(pod(container={"securityContext": {"privileged": True}}), "alice"))
    answer(client, "validate", review(pod(), "eve"))
    answer(client, "validate", review(pod(), "system:serviceaccount:kube-system:replicaset-controller"))
    text = (repo_root / "docs/audit.md").read_text()
    added = {"via", "phase", "kubernetes_user", "dry_run", "passed_without_policy", "detail"}
    assert all(f"`{field}`" in text.split("`via: admission`", 1)[1][:2000] for field in added)
    optional = {"model_digest", "on_behalf_of", "requested_by_ignored"}
    for record in admission_records(settings):
        assert (_documented_decision_fields(repo_root) - optional) | added | {"type"} | ADDED_BY_THE_LOG >= \
            set(record) >= (_documented_decision_fields(repo_root) - optional - {"on_behalf_of"}) | added | {"type"}
