"""From the canonical compose model to a Plan of orchestrator calls."""

from __future__ import annotations

import re
from typing import Any

from spin_gateway.backends.base import LABEL_FACILITY_PROJECT, LABEL_MANAGED_BY, LABEL_OWNER, LABEL_PROJECT
from spin_gateway.vocabulary.errors import ComposeError
from spin_gateway.vocabulary.types import Call, Notice, Plan

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def namespace_for(project: str) -> str:
    """The namespace of a compose project: its name, which must be a DNS-1123 label (one name, one namespace)."""
    if not _PROJECT.match(project or ""):
        raise ComposeError(f"project name {project!r} is not valid: use lowercase letters, digits, '-' and '_', "
                           "starting with a letter or digit, at most 63 characters",
                           hint="Pass a valid name with -p/--project-name.")
    # The namespace is the project name itself, never a rewriting of it: `rt_bob_x` and `rt-bob-x` would
    # both have become `rt-bob-x`, one project's objects the other's.
    if not _DNS_LABEL.match(project):
        suggestion = project.replace("_", "-").strip("-")
        raise ComposeError(f"project name {project!r} is not a valid namespace: it must be lowercase letters, "
                           "digits and '-', starting and ending with a letter or digit",
                           hint=f"Pass -p {suggestion}" if _DNS_LABEL.match(suggestion)
                           else "Pass a valid name with -p/--project-name.")
    return project


def project_labels(project: str, owner: str, facility_project: str) -> dict[str, str]:
    return {LABEL_MANAGED_BY: "spin", LABEL_PROJECT: project, LABEL_OWNER: owner,
            LABEL_FACILITY_PROJECT: facility_project}


def namespace_object(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": dict(labels)}}


def _call_id(index: int, obj: dict[str, Any]) -> str:
    return f"{index:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}"


def up_plan(objects: list[dict[str, Any]], notices: list[Notice], *, project: str, namespace: str, owner: str,
            facility_project: str, existing: set[tuple[str, str]]) -> Plan:
    labels = project_labels(project, owner, facility_project)
    everything = [namespace_object(namespace, labels), *objects]
    calls = [
        Call(id=_call_id(i, obj), operation="UPDATE" if (obj["kind"], obj["metadata"]["name"]) in existing else "CREATE",
             object=obj)
        for i, obj in enumerate(everything)
    ]
    return Plan(project=project, namespace=namespace, owner=owner, facility_project=facility_project,
                calls=calls, notices=notices)


def down_plan(existing: list[dict[str, Any]], *, project: str, namespace: str, owner: str,
              facility_project: str) -> Plan:
    """DELETE calls in reverse apply order, the namespace last."""
    calls = [Call(id=_call_id(i, obj), operation="DELETE", object=obj) for i, obj in enumerate(reversed(existing))]
    return Plan(project=project, namespace=namespace, owner=owner, facility_project=facility_project, calls=calls)
