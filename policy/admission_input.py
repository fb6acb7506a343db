"""Builds the policy input for one call: shaped like a Kubernetes AdmissionReview."""

from __future__ import annotations

from typing import Any

from spin_gateway.vocabulary.types import Call, Identity, Plan

_GROUPS = {
    "Namespace": ("", "v1"), "Pod": ("", "v1"), "Service": ("", "v1"), "ConfigMap": ("", "v1"),
    "Secret": ("", "v1"), "PersistentVolumeClaim": ("", "v1"),
    "Deployment": ("apps", "v1"), "StatefulSet": ("apps", "v1"), "DaemonSet": ("apps", "v1"),
    "ReplicaSet": ("apps", "v1"), "Job": ("batch", "v1"), "CronJob": ("batch", "v1"),
    "NetworkPolicy": ("networking.k8s.io", "v1"),
}


def group_version_kind(obj: dict[str, Any]) -> dict[str, str]:
    api_version = obj.get("apiVersion", "")
    group, _, version = api_version.rpartition("/")
    kind = obj.get("kind", "")
    if not api_version and kind in _GROUPS:
        group, version = _GROUPS[kind]
    return {"group": group, "version": version, "kind": kind}


def admission_input(call: Call, identity: Identity, plan: Plan, *, dry_run: bool) -> dict[str, Any]:
    obj = call.object
    return {
        "request": {
            "uid": call.id,
            "operation": call.operation,
            "kind": group_version_kind(obj),
            "namespace": obj.get("metadata", {}).get("namespace", plan.namespace),
            "name": call.name,
            "object": obj if call.operation != "DELETE" else None,
            "oldObject": obj if call.operation == "DELETE" else None,
            "dryRun": dry_run,
            "userInfo": {"username": identity.name, "groups": [g.name for g in identity.groups]},
        },
        "user": identity.policy_view(),
        "project": {"name": plan.project, "namespace": plan.namespace, "facility_project": plan.facility_project,
                    "owner": plan.owner},
    }
