"""From the canonical compose model (or what a project holds) to a Plan of orchestrator calls.

Up plans apply in kind rank (vocabulary.kinds); down plans delete in the
reverse of it, each object named with its own apiVersion, the Namespace once
and last.
"""

from __future__ import annotations

from typing import Any

from spin_gateway.vocabulary.kinds import apply_order, delete_order, object_ref
from spin_gateway.vocabulary.labels import REQUESTED_BY_ANNOTATION, project_labels
from spin_gateway.vocabulary.naming import namespace_for
from spin_gateway.vocabulary.types import Call, Notice, Plan

__all__ = ["down_plan", "namespace_for", "namespace_object", "project_labels", "up_plan"]


def namespace_object(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return object_ref("Namespace", namespace, None, labels)


def _requested_by(obj: dict[str, Any], user: str) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), REQUESTED_BY_ANNOTATION: user}
    return {**obj, "metadata": meta}


def _call_id(index: int, obj: dict[str, Any]) -> str:
    return f"{index:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}"


def up_plan(objects: list[dict[str, Any]], notices: list[Notice], *, project: str, namespace: str, owner: str,
            facility_project: str, existing: set[tuple[str, str]], keep_services: list[str] | None = None,
            recreate: bool = False, requested_by: str | None = None) -> Plan:
    """`requested_by`: the facility user the gateway makes the calls for, written on every object so the
    cluster's admission webhook decides them for that user (docs/kubernetes.md)."""
    labels = project_labels(project, owner, facility_project)
    everything = apply_order([namespace_object(namespace, labels), *objects])
    if requested_by:
        everything = [_requested_by(obj, requested_by) for obj in everything]
    calls = [
        Call(id=_call_id(i, obj), operation="UPDATE" if (obj["kind"], obj["metadata"]["name"]) in existing else "CREATE",
             object=obj)
        for i, obj in enumerate(everything)
    ]
    return Plan(project=project, namespace=namespace, owner=owner, facility_project=facility_project,
                calls=calls, notices=notices, keep_services=sorted(keep_services or []), recreate=recreate)


def down_plan(existing: set[tuple[str, str]], *, project: str, namespace: str, owner: str,
              facility_project: str) -> Plan:
    """A DELETE call for each (kind, name) the project holds, and for its Namespace, in reverse apply order."""
    labels = project_labels(project, owner, facility_project)
    refs = delete_order({*existing, ("Namespace", namespace)})
    calls = [Call(id=_call_id(i, obj), operation="DELETE", object=obj)
             for i, obj in enumerate(object_ref(kind, name, namespace, labels) for kind, name in refs)]
    return Plan(project=project, namespace=namespace, owner=owner, facility_project=facility_project, calls=calls)
