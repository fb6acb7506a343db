"""The canonical compose model to Kubernetes objects, in apply order.

Pure: a dict in, dicts out, no I/O. Every key the translation cannot honour is
found first (translate.key_table) and refused as one TranslateError naming each
place, why, and what to do; with allow_unsupported those places become Notices
and the rest is translated without them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from spin_gateway.translate import network, storage, workloads
from spin_gateway.translate.key_table import Finding, find_unsupported, ignored_keys, image_of, render, shared_volumes
from spin_gateway.translate.names import NameTable, service_label
from spin_gateway.translate.notices import approximations
from spin_gateway.translate.order import start_order
from spin_gateway.vocabulary.errors import TranslateError
from spin_gateway.vocabulary.types import Notice


@dataclass(frozen=True)
class Translation:
    objects: list[dict[str, Any]]
    notices: list[Notice] = field(default_factory=list)


def _refusal(findings: list[Finding]) -> TranslateError:
    lines = [f"{f.path}: {f.reason}. {f.hint}" for f in findings]
    first = findings[0]
    more = f" (and {len(findings) - 1} more: {'; '.join(lines[1:])})" if len(findings) > 1 else ""
    return TranslateError(
        f"{first.path}: {first.reason}{more}",
        hint=f"{first.hint} Or pass --allow-unsupported to deploy without what cannot be translated.",
        unsupported=[{"path": f.path, "reason": f.reason, "hint": f.hint} for f in findings])


#: What one compose model may expand to: counted before anything is expanded, so a small body of port
#: ranges is refused at once instead of growing into millions of entries.
MAX_SERVICES = 200
MAX_PORTS_PER_SERVICE = 1000
MAX_PORTS_PER_PROJECT = 25_000
MAX_OBJECTS = 2000
MAX_OBJECT_BYTES = 8 << 20


def _range_size(item: Any) -> int:
    """How many ports an expose or ports entry stands for (1 for what cannot be read: refused elsewhere)."""
    text = str(item.get("target", "") if isinstance(item, dict) else item).rpartition(":")[2].partition("/")[0]
    first, _, last = text.partition("-")
    try:
        size = int(last or first) - int(first) + 1
    except ValueError:
        return 1
    # A range the support table refuses on its own (reversed, or over 1000 ports) counts once: its message
    # names the entry.
    return size if 1 <= size <= 1000 else 1


def check_bounds(model: dict[str, Any]) -> None:
    services = model.get("services") or {}
    if len(services) > MAX_SERVICES:
        raise TranslateError(f"services: the project has {len(services)} services, more than {MAX_SERVICES}",
                             hint="Split it into several projects.")
    total = 0
    for name, svc in services.items():
        count = sum(_range_size(p) for key in ("expose", "ports") for p in (svc.get(key) or []))
        if count > MAX_PORTS_PER_SERVICE:
            raise TranslateError(f"services.{name}: expose and ports name {count} ports, more than "
                                 f"{MAX_PORTS_PER_SERVICE}", hint="Name fewer ports; each port of a range counts.")
        total += count
    if total > MAX_PORTS_PER_PROJECT:
        raise TranslateError(f"services: the project names {total} ports, more than {MAX_PORTS_PER_PROJECT}",
                             hint="Name fewer ports; each port of a range counts.")


def _check_output(objects: list[dict[str, Any]]) -> None:
    if len(objects) > MAX_OBJECTS:
        raise TranslateError(f"the project becomes {len(objects)} objects, more than {MAX_OBJECTS}",
                             hint="Split it into several projects.")
    size = sum(len(json.dumps(o)) for o in objects)
    if size > MAX_OBJECT_BYTES:
        raise TranslateError(f"the project's objects take {size} bytes, more than {MAX_OBJECT_BYTES}",
                             hint="Move large configs and secrets out of the compose file.")


def to_kubernetes(model: dict[str, Any], *, project: str, namespace: str, labels: dict[str, str],
                  allow_unsupported: bool = False) -> Translation:
    check_bounds(model)
    findings = find_unsupported(model)
    if findings and not allow_unsupported:
        raise _refusal(findings)
    notices = [Notice(path=f.path, action="ignored", reason=f"{f.reason} (--allow-unsupported: {_left_out(f)})")
               for f in findings]
    notices += [Notice(path=path, action="ignored", reason=why) for path, why in ignored_keys(model)]
    if findings:
        model = _without(model, findings)
    model = _with_images(model, project)
    model = _with_volumes_from(model)
    services: dict[str, dict[str, Any]] = model["services"]

    k8s = _service_names(services, notices)
    notices += approximations(model, namespace)
    nets = NameTable("network")
    for svc in services.values():
        for net in network.service_networks(svc):
            nets.add(net, f"networks.{net}")
    aliases = _aliases(services, k8s, notices)

    counts = {name: workloads.replicas(svc) for name, svc in services.items()}
    claim_objects = storage.claims(model, counts, labels, namespace)
    rwo = {c["metadata"]["name"] for c in claim_objects if c["spec"]["accessModes"] == ["ReadWriteOnce"]}
    objects: list[dict[str, Any]] = [*storage.file_objects(model, labels, namespace), *claim_objects]
    for name in start_order(services):
        svc = services[name]
        objects.append(workloads.workload(name, k8s[name], svc, storage.service_mounts(model, svc), labels=labels,
                                          namespace=namespace, rwo_claims=rwo))
    for name in sorted(services):
        objects += network.services(name, k8s[name], services[name], aliases[name], labels, namespace)
    objects += network.network_policies(model, k8s, labels, namespace)
    _check_output(objects)
    return Translation(objects=objects, notices=notices)


def _service_names(services: dict[str, dict[str, Any]], notices: list[Notice]) -> dict[str, str]:
    """compose service -> Kubernetes name; a rename is reported, a collision refused."""
    names = NameTable("service", service_label)
    k8s: dict[str, str] = {}
    for name in sorted(services):
        k8s[name] = names.add(name, f"services.{name}")
        if k8s[name] != name:
            notices.append(Notice(path=f"services.{name}", action="approximated",
                                  reason=f"named {k8s[name]!r} in Kubernetes (names there are lowercase letters, "
                                         f"digits and '-'); other services reach it as {k8s[name]!r}"))
    return k8s


def _aliases(services: dict[str, dict[str, Any]], k8s: dict[str, str], notices: list[Notice]) -> dict[str, list[str]]:
    """compose service -> its other Service names (container_name, network aliases), none taken twice."""
    taken = NameTable("service or alias", service_label)
    for name in sorted(services):
        taken.add(k8s[name], f"services.{name}")
    out: dict[str, list[str]] = {}
    for name in sorted(services):
        svc = services[name]
        wanted = [svc["container_name"]] if svc.get("container_name") else []
        for spec in (svc.get("networks") or {}).values():
            wanted += (spec or {}).get("aliases") or []
        own: list[str] = []
        for alias in wanted:
            alias_k8s = taken.add(alias, f"services.{name}: alias {alias!r}") if alias != name else k8s[name]
            if alias_k8s != alias.lower() and alias != name:  # DNS ignores case: Web and web are one name
                where = "container_name" if alias == svc.get("container_name") else "networks"
                notices.append(Notice(path=f"services.{name}.{where}", action="approximated",
                                      reason=f"{alias!r} is not a Kubernetes name (lowercase letters, digits and '-'): "
                                             f"peers reach {name} as {alias_k8s!r}, not as {alias!r}"))
            if alias_k8s != k8s[name] and alias_k8s not in own:
                if alias_k8s in k8s.values():
                    raise TranslateError(f"services.{name}: the alias {alias!r} is the name of another service",
                                         hint="Choose another container_name or alias.")
                own.append(alias_k8s)
        out[name] = own
    return out


def _without(model: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    """A copy of the model without the places the findings name (what --allow-unsupported leaves out)."""
    out = copy.deepcopy(model)
    # Later list items first, so removing one does not shift the index of another still to remove.
    for place in sorted((f.place for f in findings), key=_removal_order, reverse=True):
        _drop(out, place)
    # A secret or config left out is left out of the services that mount it too.
    for what in ("secrets", "configs"):
        defined = {name for name, spec in (out.get(what) or {}).items()
                   if (spec or {}).get("external") or (spec or {}).get("content") is not None}
        for svc in out["services"].values():
            if svc.get(what):
                svc[what] = [ref for ref in svc[what] if ref.get("source") in defined]
    return out


def _left_out(finding: Finding) -> str:
    """Exactly what --allow-unsupported leaves out for one finding, the rest being translated."""
    place = finding.place
    if len(place) >= 5 and place[2] == "tmpfs" and isinstance(place[3], int):
        return f"the option {place[4]} is left out, the tmpfs mount is kept"
    if len(place) >= 2 and place[0] in ("secrets", "configs") and len(place) == 2:
        return f"the {place[0][:-1]} {place[1]} and every mount of it are left out"
    return f"{render(place)} is left out, the rest is translated"


def _with_images(model: dict[str, Any], project: str) -> dict[str, Any]:
    """A service with only a build runs the image Docker Compose would build for it (see key_table.image_of)."""
    if all(svc.get("image") for svc in model["services"].values()):
        return model
    out = {**model, "services": dict(model["services"])}
    for name, svc in model["services"].items():
        if not svc.get("image"):
            # Compose uses the image it built when it is there: so does the pod, instead of pulling `latest`.
            out["services"][name] = {"pull_policy": "missing", **svc, "image": image_of(project, name, svc)}
    return out


def _with_volumes_from(model: dict[str, Any]) -> dict[str, Any]:
    """volumes_from: the named volumes and binds of the other service at the same paths (:ro read-only).

    The service's own mounts win at a path both have, as in Docker. Anonymous volumes and containers
    outside the project are refused by the support table (an emptyDir is one pod's)."""
    if not any(svc.get("volumes_from") for svc in model["services"].values()):
        return model
    out = {**model, "services": dict(model["services"])}
    for name, svc in model["services"].items():
        extra: list[dict[str, Any]] = []
        taken = {v.get("target") for v in svc.get("volumes") or []}
        for item in svc.get("volumes_from") or []:
            source, _, mode = item.partition(":")
            for _owner, vol in shared_volumes(model["services"], source, frozenset({name})):
                shareable = vol.get("type") == "bind" or (vol.get("type") == "volume" and vol.get("source"))
                if not shareable or vol.get("target") in taken:
                    continue
                taken.add(vol.get("target"))
                # no mode: each mount keeps its own; :ro or :rw sets all of them, as in Docker
                extra.append({**vol, "read_only": mode == "ro"} if mode else dict(vol))
        if extra:
            out["services"][name] = {**svc, "volumes": [*(svc.get("volumes") or []), *extra]}
    return out


def _removal_order(place: tuple[str | int, ...]) -> list[tuple[int, int | str]]:
    return [(1, part) if isinstance(part, int) else (0, part) for part in place]


def _drop(node: Any, place: tuple[str | int, ...]) -> None:
    if len(place) == 5 and place[2] == "tmpfs" and isinstance(place[3], int) and isinstance(place[4], str):
        _drop_tmpfs_option(node, place)
        return
    for part in place[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    last = place[-1] if place else None
    if isinstance(node, dict) and last in node:
        del node[last]
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node.pop(last)


def _drop_tmpfs_option(model: dict[str, Any], place: tuple[str | int, ...]) -> None:
    """`/run:size=1x,mode=1777` without the option `mode=1777`: the mount stays, only the option goes."""
    _, service, _, index, option = place
    items = ((model.get("services") or {}).get(service) or {}).get("tmpfs") or []
    if not isinstance(index, int) or not 0 <= index < len(items):
        return
    path, _, options = items[index].partition(":")
    kept = [o for o in options.split(",") if o and o != option]
    items[index] = f"{path}:{','.join(kept)}" if kept else path
