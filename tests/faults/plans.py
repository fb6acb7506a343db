"""Kubernetes objects of a small project, as the translator shapes them, and plans over them."""

from __future__ import annotations

import json
from typing import Any

from spin_gateway.gateway_api import planning
from spin_gateway.interceptor.intercept import RequestContext
from spin_gateway.vocabulary.types import Group, Identity

ALICE = Identity(name="alice", uid=1001, gid=1001, groups=[Group(name="astro", gid=5001)], projects=["astro"])
IMAGE = "localhost/spin/busybox:1.35"


def _meta(name: str, namespace: str, service: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if service:
        meta["labels"] = {"spin.io/service": service}
    return meta


def deployment(name: str, namespace: str, command: list[str], env: str = "1") -> dict[str, Any]:
    labels = {"spin.io/service": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, namespace, name),
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": name, "image": IMAGE, "command": command,
                                         "env": [{"name": "VERSION", "value": env}]}]}}}}


def project_objects(namespace: str, version: str = "1") -> list[dict[str, Any]]:
    """ConfigMap, PVC, two workloads and a Service: apply order as the translator gives it."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("settings", namespace),
         "data": {"version": version}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta("data", namespace),
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        deployment("web", namespace, ["httpd", "-f", "-p", "8080"], version),
        deployment("worker", namespace, ["sleep", "3600"], version),
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("web", namespace, "web"),
         "spec": {"selector": {"spin.io/service": "web"}, "ports": [{"port": 8080, "targetPort": 8080}]}},
    ]


def plan(namespace: str, objects: list[dict[str, Any]], existing: set[tuple[str, str]] = frozenset()):
    return planning.up_plan(objects, [], project=namespace, namespace=namespace, owner="alice",
                            facility_project="astro", existing=set(existing))


def down_calls(backend, ref) -> list:
    """The DELETE calls `spin down` would send for what the backend says the project holds."""
    return planning.down_plan(backend.existing_objects(ref), project=ref.project, namespace=ref.namespace,
                              owner=ref.owner, facility_project=ref.facility_project).calls


def ctx(request_id: str = "req-1", operation: str = "up") -> RequestContext:
    return RequestContext(request_id=request_id, operation=operation, token_id="tok-1", source="127.0.0.1")


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)
