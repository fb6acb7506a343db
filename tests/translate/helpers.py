"""Small builders shared by the translator tests: a model from a service snippet, the translation of it."""

from __future__ import annotations

from typing import Any

from spin_gateway.compose_loader import validate_model
from spin_gateway.translate import to_kubernetes

LABELS = {"app.kubernetes.io/managed-by": "spin", "spin.io/project": "demo", "spin.io/owner": "alice"}
IMAGE = "localhost/spin/busybox:1.35"


def model(services: dict[str, dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    services = services if services is not None else {"web": {}}
    return {"name": "demo", "services": {name: {"image": IMAGE, **svc} for name, svc in services.items()}, **top}


def translate(m: dict[str, Any], allow_unsupported: bool = False):
    return to_kubernetes(validate_model(m), project="demo", namespace="demo", labels=dict(LABELS),
                         allow_unsupported=allow_unsupported)


def objects(m: dict[str, Any], kind: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    out = translate(m, **kw).objects
    return [o for o in out if kind is None or o["kind"] == kind]


def one(m: dict[str, Any], kind: str, name: str | None = None, **kw: Any) -> dict[str, Any]:
    found = [o for o in objects(m, kind, **kw) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def container(m: dict[str, Any], **kw: Any) -> dict[str, Any]:
    workload = next(o for o in objects(m, **kw) if o["kind"] in ("Deployment", "Job"))
    return workload["spec"]["template"]["spec"]["containers"][0]


def pod_spec(m: dict[str, Any], **kw: Any) -> dict[str, Any]:
    workload = next(o for o in objects(m, **kw) if o["kind"] in ("Deployment", "Job"))
    return workload["spec"]["template"]["spec"]
