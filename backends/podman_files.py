"""Secrets and ConfigMaps as files on this machine, for the podman backend.

podman 4.3's `kube play` ignores `subPath`, so a compose secret mounted at
/run/secrets/pw arrived as a folder holding the file instead of the file.
Here the approved Secret and ConfigMap objects are written to a folder per
project under the gateway's --state-dir and the pod's secret/configMap volumes
become read-only binds of those files. Only the pod's user reads them: each
file is owned by the pod's uid and gid with at most 0440 (the object's mode
without its write and world bits), each folder 0550 likewise, and the folders
above 0700 root's, so no other project's container, even one that binds a
symlink to here, can read them. The
policy decided the objects as the translator made them; this only realises
them on one machine, as a kubelet does in a cluster.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from spin_gateway.vocabulary.errors import PodmanError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
DEFAULT_MODE = 0o644  # Kubernetes' default for secret and configMap volumes


def file_mode(requested: int) -> int:
    """The object's mode without write or world bits, and always readable by its owner: 0644 -> 0440."""
    return (int(requested) & 0o440) | 0o400


def _contents(obj: dict[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    encoded = obj.get("data") if obj["kind"] == "Secret" else obj.get("binaryData")
    plain = obj.get("stringData") if obj["kind"] == "Secret" else obj.get("data")
    for key, value in (encoded or {}).items():
        out[key] = base64.b64decode(value)
    for key, value in (plain or {}).items():
        out[key] = str(value).encode()
    for key in out:
        if not _KEY.match(key) or key in {".", ".."}:
            raise PodmanError(f"{obj['kind']} {obj['metadata']['name']}: key {key!r} is not a valid file name")
    return out


def _relative(path: str) -> Path:
    rel = Path(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise PodmanError(f"item path {path!r} must be relative and stay inside its volume")
    return rel


def _owner(spec: dict[str, Any]) -> tuple[int, int]:
    context = spec.get("securityContext") or {}
    containers = spec.get("containers") or [{}]
    first = containers[0].get("securityContext") or {}
    uid = first.get("runAsUser", context.get("runAsUser", 0))
    gid = first.get("runAsGroup", context.get("runAsGroup", context.get("fsGroup", 0)))
    return int(uid), int(gid)


def _folder(path: Path, top: Path, owner: tuple[int, int]) -> None:
    """path and its parents up to top (the volume's folder): the pod's user's, 0550."""
    missing = []
    here = path
    while here != top.parent and not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
    here = path
    while True:
        os.chown(here, *owner)
        os.chmod(here, 0o550)
        if here == top:
            break
        here = here.parent


def _write(path: Path, data: bytes, mode: int, owner: tuple[int, int]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chown(tmp, *owner)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def materialise(root: Path, namespace: str, spec: dict[str, Any], sources: list[dict[str, Any]]) -> str:
    """Rewrite the pod spec's secret/configMap volumes as binds of files written under root/namespace.

    Returns a digest of what was written, so a changed secret changes the pod's hash and replaces it.
    """
    if not _DNS_LABEL.match(namespace):
        raise PodmanError(f"namespace {namespace!r} is not a DNS label")
    for private in (root, root / namespace):  # root's alone: nobody else lists or enters them
        private.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(private, 0o700)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in sources}
    owner = _owner(spec)
    digest = hashlib.sha256()
    rewritten: dict[str, Path] = {}
    volumes = []
    for volume in spec.get("volumes") or []:
        kind, ref = ("Secret", volume["secret"].get("secretName")) if "secret" in volume else \
            ("ConfigMap", volume["configMap"].get("name")) if "configMap" in volume else (None, None)
        if kind is None:
            volumes.append(volume)
            continue
        source = volume.get("secret") or volume.get("configMap")
        if not _DNS_LABEL.match(volume["name"]):
            raise PodmanError(f"volume name {volume['name']!r} is not a DNS label")
        obj = by_name.get((kind, ref))
        if obj is None:
            if source.get("optional"):
                continue
            raise PodmanError(f"{kind} {ref!r} is not part of the project",
                              hint="Declare it under the compose file's top-level secrets or configs.")
        contents = _contents(obj)
        folder = root / namespace / volume["name"]
        shutil.rmtree(folder, ignore_errors=True)
        _folder(folder, folder, owner)
        items = source.get("items") or [{"key": k, "path": k} for k in contents]
        for item in items:
            if item["key"] not in contents:
                raise PodmanError(f"{kind} {ref!r} has no key {item['key']!r}")
            mode = file_mode(item.get("mode", source.get("defaultMode", DEFAULT_MODE)))
            target = folder / _relative(item["path"])
            _folder(target.parent, folder, owner)
            _write(target, contents[item["key"]], mode, owner)
            digest.update(f"{volume['name']}/{item['path']}:{mode:o}:".encode() + contents[item["key"]] + b"\0")
        rewritten[volume["name"]] = folder
        volumes.append({"name": volume["name"], "hostPath": {"path": str(folder), "type": "Directory"}})
    extra: list[dict[str, Any]] = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for mount in container.get("volumeMounts") or []:
            folder = rewritten.get(mount["name"])
            if folder is None:
                continue
            mount["readOnly"] = True
            sub = mount.pop("subPath", None)
            if sub:  # the one file, bound on its own: what subPath means
                name = f"{mount['name']}-{len(extra)}"
                extra.append({"name": name, "hostPath": {"path": str(folder / _relative(sub)), "type": "File"}})
                mount["name"] = name
    if rewritten:
        spec["volumes"] = volumes + extra
    return digest.hexdigest()[:16]


def remove(root: Path, namespace: str) -> None:
    if _DNS_LABEL.match(namespace):
        shutil.rmtree(root / namespace, ignore_errors=True)
