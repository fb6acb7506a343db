"""Mounts: named volumes to PersistentVolumeClaims, binds to hostPath, tmpfs to emptyDir in memory,
secrets and configs to Secrets and ConfigMaps mounted file by file at their compose targets.

A named volume is shared by every container that mounts it, as in Docker:
one claim per volume, ReadWriteOnce while a single pod mounts it, ReadWriteMany
when several do (more services, or more replicas). Deployments that mount a
ReadWriteOnce claim roll out with Recreate so the old pod lets go first. Compose
names no size; a claim asks for DEFAULT_CLAIM_SIZE.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from spin_gateway.translate import units
from spin_gateway.translate.key_table import mount_propagation
from spin_gateway.translate.names import NameTable, dns_name, metadata

DEFAULT_CLAIM_SIZE = "1Gi"
FILE_KEY = "content"  # the one key of each Secret/ConfigMap: the file's content


@dataclass
class Mounts:
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)  # claim names this pod mounts

    def add(self, volume: dict[str, Any], mount: dict[str, Any]) -> None:
        if not any(v["name"] == volume["name"] for v in self.volumes):
            self.volumes.append(volume)
        self.mounts.append({"name": volume["name"], **mount})


def claim_name(model: dict[str, Any], volume: str) -> str:
    spec = (model.get("volumes") or {}).get(volume) or {}
    if spec.get("external"):
        return dns_name(spec.get("name") or volume, f"volumes.{volume}")
    return dns_name(volume, f"volumes.{volume}")


def claim_users(model: dict[str, Any], replicas: dict[str, int]) -> dict[str, int]:
    """volume -> how many pods mount it."""
    users: dict[str, int] = {}
    for name, svc in model["services"].items():
        used = {v["source"] for v in svc.get("volumes") or [] if v.get("type") == "volume" and v.get("source")}
        for volume in used:
            users[volume] = users.get(volume, 0) + max(replicas.get(name, 1), 1)
    return users


def claims(model: dict[str, Any], replicas: dict[str, int], labels: dict[str, str], namespace: str) -> list[dict[str, Any]]:
    users = claim_users(model, replicas)
    table = NameTable("volume")
    out = []
    for volume in sorted(users):
        spec = (model.get("volumes") or {}).get(volume) or {}
        name = table.add(volume, f"volumes.{volume}")
        if spec.get("external"):
            continue  # it exists already; the pods refer to it by name
        access = "ReadWriteMany" if users[volume] > 1 else "ReadWriteOnce"
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": metadata(name, namespace, labels, spec.get("labels")),
                    "spec": {"accessModes": [access], "resources": {"requests": {"storage": DEFAULT_CLAIM_SIZE}}}})
    return out


def service_mounts(model: dict[str, Any], svc: dict[str, Any], allowed: set[str] | None = None) -> Mounts:
    """The pod volumes and container mounts of one service.

    `allowed`: paths of the findings the caller let through (allow_unsupported): those mounts are left out.
    """
    out = Mounts()
    anon = bind = tmp = 0
    for vol in svc.get("volumes") or []:
        kind = vol["type"]
        mount: dict[str, Any] = {"mountPath": vol["target"]}
        if vol.get("read_only"):
            mount["readOnly"] = True
        subpath = (vol.get("volume") or {}).get("subpath")
        if subpath:
            mount["subPath"] = subpath
        if kind == "volume" and vol.get("source"):
            claim = claim_name(model, vol["source"])
            out.claims.append(claim)
            out.add({"name": f"claim-{claim}"[:63].rstrip("-"), "persistentVolumeClaim": {"claimName": claim}}, mount)
        elif kind == "volume":
            # An anonymous volume lives and dies with its container: an emptyDir lives and dies with the pod.
            out.add({"name": f"anon-{anon}", "emptyDir": {}}, mount)
            anon += 1
        elif kind == "bind":
            opts = vol.get("bind") or {}
            host: dict[str, Any] = {"path": vol["source"]}
            if opts.get("create_host_path"):
                host["type"] = "DirectoryOrCreate"
            propagation = mount_propagation(opts.get("propagation"))
            if propagation:
                mount["mountPropagation"] = propagation
            out.add({"name": f"bind-{bind}", "hostPath": host}, mount)
            bind += 1
        elif kind == "tmpfs":
            empty: dict[str, Any] = {"medium": "Memory"}
            size = (vol.get("tmpfs") or {}).get("size")
            if size:
                empty["sizeLimit"] = units.quantity_bytes(size)
            out.add({"name": f"tmpfs-{tmp}", "emptyDir": empty}, mount)
            tmp += 1
        # npipe, cluster, image: refused by the support table; left out when allowed through
    for item in svc.get("tmpfs") or []:
        path, _, options = item.partition(":")
        if not path.startswith("/"):
            continue  # refused by the support table
        empty = {"medium": "Memory"}
        for opt in filter(None, options.split(",")):
            name, _, setting = opt.partition("=")
            if name == "size":
                try:
                    empty["sizeLimit"] = units.quantity_bytes(setting)
                except ValueError:
                    pass  # refused by the support table
        out.add({"name": f"tmpfs-{tmp}", "emptyDir": empty}, {"mountPath": path})
        tmp += 1
    if svc.get("shm_size") is not None:
        try:
            size = units.quantity_bytes(svc["shm_size"])
            out.add({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}}, {"mountPath": "/dev/shm"})
        except ValueError:
            pass  # refused by the support table
    for what in ("secrets", "configs"):
        for ref in svc.get(what) or []:
            _file_mount(model, what, ref, out)
    return out


def default_target(what: str, ref: dict[str, Any]) -> str:
    target = ref.get("target") or ref["source"]
    if what == "secrets" and not target.startswith("/"):
        return f"/run/secrets/{target}"
    return target if target.startswith("/") else "/" + target


def object_name(model: dict[str, Any], what: str, source: str) -> str:
    spec = (model.get(what) or {}).get(source) or {}
    if spec.get("external"):
        return dns_name(spec.get("name") or source, f"{what}.{source}")
    return dns_name(source, f"{what}.{source}")


def _file_mount(model: dict[str, Any], what: str, ref: dict[str, Any], out: Mounts) -> None:
    name = object_name(model, what, ref["source"])
    item: dict[str, Any] = {"key": FILE_KEY, "path": FILE_KEY}
    mode = ref.get("mode")
    try:
        item["mode"] = units.file_mode(mode) if mode is not None else 0o444
    except ValueError:
        item["mode"] = 0o444  # refused by the support table
    # optional: false is Kubernetes' default, written out: podman 4.3's kube play dereferences it unchecked.
    volume: dict[str, Any]
    if what == "secrets":
        volume = {"name": f"secret-{name}"[:63].rstrip("-"),
                  "secret": {"secretName": name, "items": [item], "optional": False}}
    else:
        volume = {"name": f"config-{name}"[:63].rstrip("-"),
                  "configMap": {"name": name, "items": [item], "optional": False}}
    # one pod volume per object and mode: two mounts of one secret with different modes need two volumes
    if any(v["name"] == volume["name"] and v != volume for v in out.volumes):
        volume["name"] = f"{volume['name'][:56]}-{item['mode']:o}"
    target = default_target(what, ref)
    out.add(volume, {"mountPath": target, "subPath": FILE_KEY, "readOnly": True})


def file_objects(model: dict[str, Any], labels: dict[str, str], namespace: str) -> list[dict[str, Any]]:
    """Secrets and ConfigMaps for the secrets and configs services use (external ones exist already)."""
    out: list[dict[str, Any]] = []
    for what, kind in (("configs", "ConfigMap"), ("secrets", "Secret")):
        used = sorted({ref["source"] for svc in model["services"].values() for ref in svc.get(what) or []})
        table = NameTable(what[:-1])
        for source in used:
            spec = (model.get(what) or {}).get(source) or {}
            name = table.add(object_name(model, what, source) if spec.get("external") else source, f"{what}.{source}")
            if spec.get("external") or spec.get("content") is None:
                continue  # external: exists already; no content: refused by the support table
            obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind,
                                   "metadata": metadata(name, namespace, labels, spec.get("labels"))}
            if kind == "Secret":
                obj["type"] = "Opaque"
                obj["data"] = {FILE_KEY: base64.b64encode(spec["content"].encode()).decode()}
            else:
                obj["data"] = {FILE_KEY: spec["content"]}
            out.append(obj)
    return out


