"""The interceptor: one decision per call, patched objects forwarded, nothing forwarded on any denial."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.backends.manifests import ManifestsBackend
from spin_gateway.gateway_api import planning
from spin_gateway.interceptor.intercept import RequestContext, intercept
from spin_gateway.policy.service import PolicyService
from spin_gateway.vocabulary.types import Group, Identity

ALICE = Identity(name="alice", uid=1001, gid=1001, groups=[Group(name="astro", gid=5001)], projects=["astro"])


def deployment(name, **security):
    container = {"name": name, "image": "localhost/spin/busybox:1.35"}
    if security:
        container["securityContext"] = security
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "demo", "labels": {"spin.io/service": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"spin.io/service": name}},
                     "template": {"metadata": {"labels": {"spin.io/service": name}}, "spec": {"containers": [container]}}}}


def plan_of(*objects):
    return planning.up_plan(list(objects), [], project="demo", namespace="demo", owner="alice",
                            facility_project="astro", existing=set())


@pytest.fixture
def audit(tmp_path):
    log = AuditLog(tmp_path / "audit.log")
    yield log
    log.close()


def ctx():
    return RequestContext(request_id="req-1", operation="up", token_id="tok-1")


def on_project_fs(obj):
    """The deployment mounting alice's project folder: uid-mapping applies to such workloads only."""
    pod = obj["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "data", "hostPath": {"path": "/global/cfs/projects/astro/web"}}]
    pod["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return obj


def test_allowed_plan_is_forwarded_with_the_policy_patches_applied(tmp_path, audit, policy_service):
    backend = ManifestsBackend(tmp_path / "out")
    outcome = intercept(plan_of(on_project_fs(deployment("web"))), ALICE, policy_service, audit, backend, ctx(), dry_run=False)
    assert outcome.allowed and outcome.forwarded
    written = yaml.safe_load((tmp_path / "out/demo/deployment-web.yaml").read_text())
    pod_sc = written["spec"]["template"]["spec"]["securityContext"]
    assert pod_sc["runAsUser"] == 1001 and pod_sc["runAsGroup"] == 1001
    records = list(read_records(audit.path))
    decisions = [r for r in records if r["type"] == "decision"]
    assert len(decisions) == len(outcome.decisions) == 2  # namespace + deployment
    assert all(r["decision"] == "allow" and r["user"] == {"name": "alice", "uid": 1001} for r in decisions)
    assert any(r["patches"] for r in decisions)
    assert [r for r in records if r["type"] == "forward"]


def test_one_denied_call_refuses_the_whole_plan(tmp_path, audit, policy_service):
    backend = ManifestsBackend(tmp_path / "out")
    outcome = intercept(plan_of(deployment("web"), deployment("evil", privileged=True)), ALICE, policy_service, audit,
                        backend, ctx(), dry_run=False)
    assert not outcome.allowed and not outcome.forwarded
    assert not (tmp_path / "out").exists()  # nothing, not even the allowed web deployment
    denied = outcome.denied
    assert [d.name for d in denied] == ["evil"]
    assert denied[0].violations[0].rule == "no-privileged"
    records = [r for r in read_records(audit.path) if r["type"] == "decision"]
    assert {r["object"]["name"]: r["decision"] for r in records} == {"demo": "allow", "web": "allow", "evil": "deny"}
    assert not [r for r in read_records(audit.path) if r["type"] == "forward"]


def test_dry_run_decides_and_audits_but_forwards_nothing(tmp_path, audit, policy_service):
    backend = ManifestsBackend(tmp_path / "out")
    outcome = intercept(plan_of(deployment("web")), ALICE, policy_service, audit, backend, ctx(), dry_run=True)
    assert outcome.allowed and not outcome.forwarded
    assert not (tmp_path / "out").exists()
    assert len(list(read_records(audit.path))) == 2


def test_an_engine_that_errors_denies_fail_closed(tmp_path, audit):
    rego = tmp_path / "rego"
    rego.mkdir()
    # A complete rule with two values is a runtime conflict error in OPA.
    (rego / "broken.rego").write_text(textwrap.dedent("""
        package spin.admission
        deny contains {"rule": "x", "message": "y"} if false
        patch := [] if true
        patch := [{"op": "add"}] if input.request.kind.kind == "Deployment"
    """))
    service = PolicyService(rego)
    try:
        backend = ManifestsBackend(tmp_path / "out")
        outcome = intercept(plan_of(deployment("web")), ALICE, service, audit, backend, ctx(), dry_run=False)
    finally:
        service.close()
    assert not outcome.allowed and not outcome.forwarded
    errored = [d for d in outcome.decisions if not d.allowed]
    assert errored and errored[0].violations[0].rule == "policy-error"
    assert not (tmp_path / "out").exists()


def test_an_audit_log_that_cannot_be_written_stops_the_forward(tmp_path, policy_service):
    from spin_gateway.vocabulary.errors import AuditError

    log = AuditLog(tmp_path / "audit.log")
    log._fh.close()
    log._fh = open("/dev/full", "ab", buffering=0)
    backend = ManifestsBackend(tmp_path / "out")
    with pytest.raises(AuditError):
        intercept(plan_of(deployment("web")), ALICE, policy_service, log, backend, ctx(), dry_run=False)
    assert not (tmp_path / "out").exists()


def test_every_record_carries_the_fields_security_staff_ask_for(tmp_path, audit, policy_service):
    """Issue 6's list: time, request and call id, user, acting token, source, project, namespace, operation,
    kind and name, decision, violated rules with messages, patches, policy revision, engine, decision time,
    the backend's answer, and a schema version."""
    from spin_gateway.interceptor.intercept import RequestContext

    context = RequestContext(request_id="req-9", operation="up", source="10.1.2.3", token_id="svc-7",
                             token_kind="service")
    intercept(plan_of(deployment("web")), ALICE, policy_service, audit, ManifestsBackend(tmp_path / "out"), context,
              dry_run=False)
    records = list(read_records(audit.path))
    decision = next(r for r in records if r["type"] == "decision" and r["object"]["kind"] == "Deployment")
    assert decision["schema_version"] == 1 and decision["time"] and decision["record_id"] and decision["prev"]
    assert (decision["request_id"], decision["call_id"]) == ("req-9", "001-deployment-web")
    assert decision["user"] == {"name": "alice", "uid": 1001}
    assert decision["token"] == {"id": "svc-7", "kind": "service"} and decision["source"] == "10.1.2.3"
    assert (decision["project"], decision["namespace"], decision["facility_project"]) == ("demo", "demo", "astro")
    assert (decision["operation"], decision["verb"], decision["object"]) == ("up", "CREATE",
                                                                               {"kind": "Deployment", "name": "web"})
    assert decision["decision"] == "allow" and decision["violations"] == []
    assert any(p["path"].endswith("securityContext") or "runAsUser" in p["path"] for p in decision["patches"])
    assert decision["policy_revision"] == policy_service.revision and decision["engine"] == "embedded-opa"
    assert isinstance(decision["decision_ms"], float) and decision["decision_ms"] > 0
    forward = next(r for r in records if r["type"] == "forward" and r["object"]["kind"] == "Deployment")
    assert (forward["request_id"], forward["call_id"], forward["backend"]) == ("req-9", "001-deployment-web", "manifests")
    assert forward["backend_result"] == "created" and forward["backend_message"].endswith("deployment-web.yaml")
    assert forward["token"] == {"id": "svc-7", "kind": "service"} and forward["source"] == "10.1.2.3"


def test_a_denial_records_each_violated_rule_with_its_message(tmp_path, audit, policy_service):
    intercept(plan_of(deployment("evil", privileged=True)), ALICE, policy_service, audit,
              ManifestsBackend(tmp_path / "out"), ctx(), dry_run=False)
    denied = [r for r in read_records(audit.path) if r.get("decision") == "deny"]
    assert [r["object"]["name"] for r in denied] == ["evil"]
    rules = {v["rule"]: v["message"] for v in denied[0]["violations"]}
    assert "no-privileged" in rules and "privileged" in rules["no-privileged"]
