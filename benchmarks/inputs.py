"""Realistic inputs: a 10-service compose model and the Kubernetes objects the translator makes of it."""

from __future__ import annotations

import copy
from typing import Any

PROJECT = "bench"


def compose_model(services: int = 10, replicas: int | None = None) -> dict[str, Any]:
    """replicas=0 for a real cluster shared with others: the objects are made, no pod runs."""
    out: dict[str, Any] = {"name": PROJECT, "services": {}}
    for i in range(services):
        out["services"][f"svc{i}"] = {
            "image": "registry.example.org/astro/worker:1.4",
            "command": ["sh", "-c", f"echo job {i}; sleep 3600"],
            "environment": {"QUEUE": f"q{i}", "LOG_LEVEL": "info"},
            "labels": {"org.example.role": "worker"},
            "user": "1001:1001",
            **({"deploy": {"replicas": replicas}} if replicas is not None else {}),
        }
    return out


def translated(namespace: str, labels: dict[str, str], services: int = 10) -> list[dict[str, Any]]:
    """The Kubernetes objects translate.to_kubernetes makes of compose_model(services), in apply order."""
    from spin_gateway.compose_loader import validate_model
    from spin_gateway.translate import to_kubernetes

    return to_kubernetes(validate_model(compose_model(services)), project=PROJECT, namespace=namespace,
                         labels=labels).objects


def denied_variant(obj: dict[str, Any]) -> dict[str, Any]:
    """The same workload made privileged: the library must refuse it."""
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
