"""Realistic inputs: a 10-service compose model and the Deployments it becomes.

Uses translate.to_kubernetes when it has landed; until then builds the same
shape of Deployment by hand (the runner says which it used).
"""

from __future__ import annotations

import copy
from typing import Any

PROJECT = "bench"


def compose_model(services: int = 10) -> dict[str, Any]:
    out: dict[str, Any] = {"name": PROJECT, "services": {}}
    for i in range(services):
        out["services"][f"svc{i}"] = {
            "image": "registry.example.org/astro/worker:1.4",
            "command": ["sh", "-c", f"echo job {i}; sleep 3600"],
            "environment": {"QUEUE": f"q{i}", "LOG_LEVEL": "info"},
            "labels": {"org.example.role": "worker"},
            "user": "1001:1001",
        }
    return out


def _deployment(name: str, namespace: str, labels: dict[str, str], *, privileged: bool) -> dict[str, Any]:
    container = {"name": name, "image": "registry.example.org/astro/worker:1.4",
                 "command": ["sh", "-c", "sleep 3600"], "env": [{"name": "QUEUE", "value": name}],
                 "securityContext": {"runAsUser": 1001, "runAsGroup": 1001, "allowPrivilegeEscalation": False,
                                     "privileged": privileged}}
    sel = {**labels, "io.kompose.service": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"io.kompose.service": name}},
                     "template": {"metadata": {"labels": sel}, "spec": {"containers": [container]}}}}


def deployments(namespace: str, labels: dict[str, str], services: int = 10) -> tuple[list[dict[str, Any]], str]:
    """(Deployment objects, source) where source is 'translate' or 'hand-built'."""
    try:
        from compose_loader import validate_model
        from translate import to_kubernetes
        objs = to_kubernetes(validate_model(compose_model(services)), project=PROJECT, namespace=namespace,
                             labels=labels).objects
        deps = [o for o in objs if o.get("kind") in ("Deployment", "StatefulSet", "Job", "Pod")]
        if deps:
            return deps, "translate"
    except Exception:  # not landed yet, or refused: fall back, and say so
        pass
    return [_deployment(f"svc{i}", namespace, labels, privileged=False) for i in range(services)], "hand-built"


def denied_variant(obj: dict[str, Any]) -> dict[str, Any]:
    """The same object made privileged: the library must refuse it."""
    bad = copy.deepcopy(obj)
    for c in bad["spec"]["template"]["spec"]["containers"]:
        c.setdefault("securityContext", {})["privileged"] = True
    return bad


def three_container_deployment(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """Issue 4's benchmark input: one Deployment of three containers, as the translator shapes it,
    mounting the project's global file system so every rule of the library has work to do
    (uid-mapping, global-fs and volumes included) and asking for patches (limits, escalation, ids)."""
    def container(name: str) -> dict[str, Any]:
        return {"name": name, "image": "localhost/spin/busybox:1.35", "command": ["sh", "-c", "sleep 3600"],
                "env": [{"name": "QUEUE", "value": name}], "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "volumeMounts": [{"name": "project", "mountPath": "/data"}, {"name": "scratch", "mountPath": "/tmp"}]}
    sel = {**labels, "spin.io/service": "pipeline"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "pipeline", "namespace": namespace, "labels": {**labels, "spin.io/service": "pipeline"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"spin.io/service": "pipeline"}},
                     "template": {"metadata": {"labels": sel}, "spec": {
                         "containers": [container("fetch"), container("process"), container("publish")],
                         "volumes": [{"name": "project", "hostPath": {"path": "/global/cfs/projects/astro/pipeline",
                                                                       "type": "Directory"}},
                                     {"name": "scratch", "emptyDir": {}}]}}}}
