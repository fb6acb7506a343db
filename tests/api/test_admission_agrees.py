"""The webhook decides the gateway's own calls exactly as the gateway did: every corpus project, call by call.

For each compose project of the corpus (../shared/corpus/compose, as tests/cluster/test_pod_security_admission.py
walks it): the gateway's own `check` as alice gives its decisions; then every call of that plan, as the gateway
would send it to the API server (its service account, `spin.io/requested-by: alice`), goes through the webhook
as the API server sends it: the mutating pass, its patch applied, the validating pass. Both must agree on
allowed or refused, on every violation, and on every patch; the validating pass must find nothing left to change.
"""

from __future__ import annotations

import base64
import json
import re

import jsonpatch
import pytest

from spin_gateway.backends.base import ProjectRef
from spin_gateway.gateway_api import planning
from spin_gateway.vocabulary.errors import SpinError
from tests.api.test_admission import GATEWAY_SA, answer, review
from tests.cluster.test_pod_security_admission import COMPOSE_CORPUS


def corpus_projects() -> list[tuple[str, dict]]:
    from spin_gateway.compose_loader import load_project

    out = []
    for folder in sorted(p for p in COMPOSE_CORPUS.iterdir() if p.is_dir()) if COMPOSE_CORPUS.is_dir() else []:
        files = [folder / n for n in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
                 if (folder / n).exists()]
        if not files:
            continue
        name = re.sub(r"[^a-z0-9-]", "-", folder.name.lower()).strip("-")[:50]
        try:
            model = load_project(files[:1], project_name=name, environ={"HOME": "/root",
                                                                         "PLEX_MEDIA_PATH": "/srv/media"}).model
        except SpinError:
            continue
        out.append((name, json.loads(json.dumps(model, default=str))))
    return out


def violations(items) -> list[tuple[str, str]]:
    return sorted((v["rule"], v["message"]) for v in items)


def test_the_webhook_agrees_with_the_gateway_on_every_corpus_project(client, token_for, app):
    projects = corpus_projects()
    assert len(projects) > 30, f"the compose corpus is not at {COMPOSE_CORPUS}"
    gateway = app.state.gateway
    alice = gateway.identity.lookup("alice")
    compared = refused = patched_calls = 0
    disagreements = []
    for name, model in projects:
        r = client.post(f"/v1/projects/{name}/check", json={"compose": model}, headers=token_for("alice"))
        if r.status_code == 422:
            continue  # not translatable: the gateway makes no calls, so there is nothing to admit
        assert r.status_code == 200, r.text
        decided = {d["call_id"]: d for d in r.json()["decisions"]}
        # The same plan the gateway decided (its translation, its calls), as the gateway would send it.
        from spin_gateway.compose_loader import validate_model
        from spin_gateway.translate import to_kubernetes

        labels = planning.project_labels(name, "alice", "astro")
        translation = to_kubernetes(validate_model(model), project=name, namespace=name, labels=labels)
        plan = planning.up_plan(translation.objects, translation.notices, project=name, namespace=name, owner="alice",
                                facility_project="astro", existing=set(), requested_by=alice.name)
        assert set(decided) == {c.id for c in plan.calls}
        # The namespace first, as the API server has it before anything is made in it.
        namespace_call = plan.calls[0]
        assert namespace_call.kind == "Namespace"
        gateway.backend.apply(ProjectRef(name, name, "alice", "astro"), [namespace_call])
        for call in plan.calls:
            mine = decided[call.id]
            body = review(call.object, GATEWAY_SA, namespace="" if call.kind == "Namespace" else name)
            first = answer(client, "mutate", body)
            where = f"{name}: {call.kind}/{call.name}"
            compared += 1
            if first["allowed"] != mine["allowed"]:
                disagreements.append(f"{where}: gateway allowed={mine['allowed']}, webhook {first}")
                continue
            if not mine["allowed"]:
                refused += 1
                said = first["status"]["message"]
                missing = [m for _, m in violations(mine["violations"]) if m not in said]
                if missing:
                    disagreements.append(f"{where}: the webhook's refusal lacks {missing}")
                continue
            patch = json.loads(base64.b64decode(first["patch"])) if first.get("patch") else []
            if patch != mine["patches"]:
                disagreements.append(f"{where}: patches differ: gateway {mine['patches']}, webhook {patch}")
                continue
            patched_calls += bool(patch)
            body["request"]["object"] = jsonpatch.apply_patch(call.object, patch) if patch else call.object
            second = answer(client, "validate", body)
            if not second["allowed"] or second.get("patch"):
                disagreements.append(f"{where}: the validating pass refused the mutated object: {second}")
    print(f"\n{len(projects)} corpus projects, {compared} calls compared: {refused} refused by both, "
          f"{patched_calls} patched alike, {compared - refused} admitted by both")
    assert not disagreements, "\n".join(disagreements[:20])
    assert refused and patched_calls  # both paths exercised, not only agreement on "allow"


@pytest.mark.parametrize("user", ["mallory"])
def test_the_webhook_refuses_the_gateways_call_for_a_user_the_gateway_would_refuse(client, token_for, app, user):
    """The same calls, requested for someone outside the project's facility project: refused by the namespace rule."""
    name, model = corpus_projects()[0]
    from spin_gateway.compose_loader import validate_model
    from spin_gateway.translate import to_kubernetes

    labels = planning.project_labels(name, "alice", "astro")
    translation = to_kubernetes(validate_model(model), project=name, namespace=name, labels=labels)
    plan = planning.up_plan(translation.objects, [], project=name, namespace=name, owner="alice",
                            facility_project="astro", existing=set(), requested_by=user)
    app.state.gateway.backend.apply(ProjectRef(name, name, "alice", "astro"), [plan.calls[0]])
    for call in plan.calls[1:]:
        out = answer(client, "mutate", review(call.object, GATEWAY_SA, namespace=name))
        assert out["allowed"] is False and "[namespace]" in out["status"]["message"]
