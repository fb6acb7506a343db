"""The kinds a project is made of: their API versions and the order they are applied and deleted in.

One ranking serves both directions, as lightkube's `sort_objects` does: what
others refer to comes first (the Namespace, then the files and volumes pods
mount, then the workloads, then what selects them), and deleting walks the
same ranking backwards, so nothing is left referring to what is already gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: apiVersion of each kind spin makes (and so may be asked to delete).
API_VERSIONS: dict[str, str] = {
    "Namespace": "v1",
    "ServiceAccount": "v1",
    "Secret": "v1",
    "ConfigMap": "v1",
    "PersistentVolumeClaim": "v1",
    "Pod": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Service": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}

_RANK: dict[str, int] = {
    "Namespace": 0,
    "ServiceAccount": 1, "Secret": 1, "ConfigMap": 1,
    "PersistentVolumeClaim": 2,
    "Pod": 3, "Deployment": 3, "StatefulSet": 3, "DaemonSet": 3, "Job": 3, "CronJob": 3,
    "Service": 4,
    "NetworkPolicy": 5,
}
#: Kinds the table does not know are applied last and deleted first.
_UNKNOWN_RANK = max(_RANK.values()) + 1


def rank(kind: str) -> int:
    return _RANK.get(kind, _UNKNOWN_RANK)


def apply_order(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects by kind rank; within a kind the given order stays (workloads keep their start order)."""
    return sorted(objects, key=lambda o: rank(str(o.get("kind", ""))))


def delete_order(refs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(kind, name) pairs in reverse apply order: highest rank first, then by name; duplicates once."""
    return sorted(set(refs), key=lambda ref: (-rank(ref[0]), ref[0], ref[1]))


def object_ref(kind: str, name: str, namespace: str | None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The smallest object that names (kind, name) with its right apiVersion, as a DELETE call carries it."""
    meta: dict[str, Any] = {"name": name}
    if namespace and kind != "Namespace":
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if kind not in API_VERSIONS:
        # Guessing "v1" would name another resource, or none: a kind spin never made is not spin's to delete.
        raise ValueError(f"spin makes no {kind!r} objects")
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": meta}
