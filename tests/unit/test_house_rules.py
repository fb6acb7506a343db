"""Rules every part shares, kept once: where copies once disagreed, the case they disagreed on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from spin_gateway.backends.base import ProjectRef
from spin_gateway.backends.manifests import ManifestsBackend
from spin_gateway.compose_loader import normalize
from spin_gateway.compose_loader.model import ComposeModel
from spin_gateway.gateway_api import planning
from spin_gateway.translate import to_kubernetes
from spin_gateway.vocabulary.errors import ComposeError
from spin_gateway.vocabulary.kinds import object_ref, rank
from spin_gateway.vocabulary.naming import is_compose_project_name, namespace_for

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"app.kubernetes.io/managed-by": "spin", "spin.io/project": "demo", "spin.io/owner": "alice",
          "spin.io/facility-project": "astro"}
HELD = {("Namespace", "demo"), ("Deployment", "web"), ("Deployment", "db"), ("Service", "web"),
        ("PersistentVolumeClaim", "data"), ("NetworkPolicy", "default"), ("Secret", "token"), ("Job", "init")}


def down_calls(held=HELD):
    return planning.down_plan(held, project="demo", namespace="demo", owner="alice", facility_project="astro").calls


def test_down_names_the_namespace_once_and_last():
    calls = down_calls()
    assert [c.kind for c in calls].count("Namespace") == 1
    assert calls[-1].kind == "Namespace" and calls[-1].name == "demo"


def test_down_deletes_in_reverse_apply_order_by_kind_rank():
    kinds = [c.kind for c in down_calls()]
    assert kinds == ["NetworkPolicy", "Service", "Deployment", "Deployment", "Job", "PersistentVolumeClaim",
                     "Secret", "Namespace"]


def test_each_delete_names_its_own_api_version():
    versions = {c.kind: c.object["apiVersion"] for c in down_calls()}
    assert versions == {"NetworkPolicy": "networking.k8s.io/v1", "Service": "v1", "Deployment": "apps/v1",
                        "Job": "batch/v1", "PersistentVolumeClaim": "v1", "Secret": "v1", "Namespace": "v1"}


def test_a_kind_spin_never_makes_is_not_given_a_guessed_api_version():
    with pytest.raises(ValueError, match="Widget"):
        object_ref("Widget", "x", "demo")


def test_up_applies_the_namespace_first_and_kinds_by_rank():
    model = {"name": "demo", "services": {
        "web": {"image": "localhost/spin/busybox:1.35", "volumes": [{"type": "volume", "source": "data", "target": "/d"}],
                "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}], "depends_on": {"db": {"condition": "service_started", "required": True}}},
        "db": {"image": "localhost/spin/busybox:1.35"}},
        "volumes": {"data": {}}}
    translation = to_kubernetes(model, project="demo", namespace="demo", labels=LABELS)
    plan = planning.up_plan(list(reversed(translation.objects)), [], project="demo", namespace="demo", owner="alice",
                            facility_project="astro", existing=set())
    kinds = [c.kind for c in plan.calls]
    assert kinds[0] == "Namespace"
    assert [rank(k) for k in kinds] == sorted(rank(k) for k in kinds)


def test_manifests_down_removes_only_the_approved_objects(tmp_path):
    backend = ManifestsBackend(tmp_path)
    ref = ProjectRef("demo", "demo", "alice", "astro")
    objects = [object_ref("Namespace", "demo", None, LABELS), object_ref("Secret", "token", "demo", LABELS)]
    plan = planning.up_plan(objects[1:], [], project="demo", namespace="demo", owner="alice", facility_project="astro",
                            existing=set())
    backend.apply(ref, plan.calls)
    approved = down_calls(backend.existing_objects(ref))
    # Written after the down plan was decided: nothing approved its deletion.
    later = object_ref("ConfigMap", "late", "demo", LABELS)
    backend.apply(ref, [*plan.calls, planning.up_plan([later], [], project="demo", namespace="demo", owner="alice",
                                                      facility_project="astro", existing=set()).calls[-1]])
    results = backend.delete(ref, approved, volumes=False)
    assert backend.existing_objects(ref) == {("ConfigMap", "late"), ("Namespace", "demo")}
    assert {(r.kind, r.action) for r in results} >= {("Secret", "deleted"), ("ConfigMap", "skipped"),
                                                     ("Namespace", "skipped")}


@pytest.mark.parametrize("size, expected", [("1tb", 1 << 40), ("1p", 1 << 50), ("2 GiB", 2 << 30), ("1.5g", 3 << 29),
                                            ("512m", 512 << 20), ("64kib", 64 << 10), ("100", 100)])
def test_loader_and_translator_read_sizes_alike(size, expected):
    assert normalize.byte_size(size, "services.web.mem_limit") == str(expected)
    model = {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "mem_limit": str(expected)}}}
    objects = to_kubernetes(model, project="demo", namespace="demo", labels=LABELS).objects
    container = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] in {str(expected), f"{expected >> 10}Ki", f"{expected >> 20}Mi",
                                                          f"{expected >> 30}Gi", f"{expected >> 40}Ti"}


@pytest.mark.parametrize("size", ["5ib", "1x", "-1m", "1.2.3m", "m", ""])
def test_loader_refuses_what_is_not_a_size(size):
    with pytest.raises(ComposeError, match="is not a size"):
        normalize.byte_size(size, "services.web.mem_limit")


def test_one_project_name_rule_with_one_length_limit():
    long = "a" * 64
    assert is_compose_project_name(long)  # Docker Compose itself sets no limit: `spin config` reads it
    with pytest.raises(ComposeError, match="at most 63"):
        namespace_for(long)
    with pytest.raises(ValidationError):
        ComposeModel.model_validate({"name": long, "services": {"web": {"image": "x"}}})
    assert namespace_for("a" * 63) == "a" * 63


def test_no_module_outside_the_vocabulary_defines_a_label_key():
    """A second copy of a label constant is how the translator and a backend once drifted apart."""
    defining = re.compile(r'^[A-Z_]+ = "(app\.kubernetes\.io/managed-by|[a-z.]*spin\.io/[^"]*)"', re.M)
    offenders = [str(path.relative_to(ROOT)) for folder in ("compose_loader", "translate", "policy", "audit", "backends",
                                                          "interceptor", "gateway_api", "cli")
                 for path in (ROOT / folder).rglob("*.py") if defining.search(path.read_text())]
    assert offenders == []
