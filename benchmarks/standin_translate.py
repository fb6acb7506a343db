"""A stand-in for translate.to_kubernetes, used only while the real translator has not landed.

It makes one Deployment per service, shaped as inputs.py builds them, so the
rest of the path (auth, policy, audit, backend) can be measured now. The
runner prints which translator it used; figures with the stand-in leave out
the real translator's cost.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def to_kubernetes(model: dict[str, Any], *, project: str, namespace: str, labels: dict[str, str]):
    from benchmarks.inputs import _deployment

    objects = [_deployment(name, namespace, labels, privileged=bool(svc.get("privileged")))
               for name, svc in sorted((model.get("services") or {}).items())]
    return SimpleNamespace(objects=objects, notices=[])


def needed() -> bool:
    try:
        from translate import to_kubernetes  # noqa: F401
        return False
    except ImportError:
        return True


def install() -> bool:
    """Put the stand-in in place when the real one is missing. True if it did."""
    if not needed():
        return False
    import translate

    translate.to_kubernetes = to_kubernetes
    return True
