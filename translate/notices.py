"""What is translated but does not behave quite as in Docker, or must exist before it runs: said, not hidden.

Each function reads the model (after the support table let it through) and returns Notices; none
changes what is translated. A key listed here is one a user could otherwise lose without a word.
"""

from __future__ import annotations

from typing import Any

from spin_gateway.translate import units
from spin_gateway.translate.key_table import TMPFS_FLAGS
from spin_gateway.translate.names import service_label
from spin_gateway.translate.storage import claim_name, object_name
from spin_gateway.vocabulary.types import Notice


def approximations(model: dict[str, Any], namespace: str) -> list[Notice]:
    services: dict[str, dict[str, Any]] = model.get("services") or {}
    out: list[Notice] = []
    for name in sorted(services):
        svc = services[name]
        out += _volumes(name, svc)
        out += _depends_on(name, svc, services)
        out += _environment(name, svc)
        out += _ports(name, svc)
        out += _healthcheck(name, svc)
        out += _tmpfs(name, svc)
        out += _file_refs(name, svc)
        out += _network(name, svc)
        mode = (svc.get("deploy") or {}).get("mode")
        if mode == "global":
            out.append(Notice(path=f"services.{name}.deploy.mode", action="approximated",
                              reason="one replica, as Docker Compose runs a global service on its one machine; one per "
                                     "node would be a DaemonSet, which is not made (a site may refuse those)"))
    out += _external(model, namespace)
    return out


def _volumes(name: str, svc: dict[str, Any]) -> list[Notice]:
    out = []
    for i, vol in enumerate(svc.get("volumes") or []):
        if vol.get("type") == "volume" and not vol.get("source"):
            out.append(Notice(path=f"services.{name}.volumes[{i}]", action="approximated",
                              reason=f"the anonymous volume at {vol['target']} becomes an emptyDir: it starts empty "
                                     "(Docker copies the image's files there) and lives as long as the pod"))
        elif vol.get("type") == "volume" and not (vol.get("volume") or {}).get("nocopy"):
            out.append(Notice(path=f"services.{name}.volumes[{i}]", action="approximated",
                              reason=f"the claim {vol['source']} mounted at {vol['target']} starts empty: Docker copies "
                                     "the image's files at that path into a new volume, Kubernetes does not (say "
                                     "volume.nocopy: true to drop this notice)"))
    return out


def _depends_on(name: str, svc: dict[str, Any], services: dict[str, Any]) -> list[Notice]:
    out = []
    for dep, spec in (svc.get("depends_on") or {}).items():
        spec = spec or {}
        condition = spec.get("condition", "service_started")
        if condition != "service_started" and dep in services:
            out.append(Notice(path=f"services.{name}.depends_on.{dep}", action="approximated",
                              reason=f"{name} is applied after {dep}, but Kubernetes does not wait for "
                                     f"{condition.removeprefix('service_').replace('_', ' ')}; the condition is "
                                     "kept in the annotation spin.io/depends-on"))
        if spec.get("restart") and dep in services:
            out.append(Notice(path=f"services.{name}.depends_on.{dep}.restart", action="ignored",
                              reason=f"Docker Compose restarts {name} when it restarts {dep}; Kubernetes restarts "
                                     "each pod on its own, so nothing restarts it"))
    return out


def _environment(name: str, svc: dict[str, Any]) -> list[Notice]:
    return [Notice(path=f"services.{name}.environment.{key}", action="ignored",
                   reason=f"{key} has no value and was not set in the shell or .env where spin ran; it is left out, "
                          "as Docker leaves it out of the container")
            for key, value in (svc.get("environment") or {}).items() if value is None]


def _ports(name: str, svc: dict[str, Any]) -> list[Notice]:
    out = []
    for i, port in enumerate(svc.get("ports") or []):
        if port.get("published") in (None, ""):
            out.append(Notice(path=f"services.{name}.ports[{i}]", action="approximated",
                              reason=f"no host port is given (Docker picks a random one): port {port['target']} is "
                                     f"reachable by the other services as {service_label(name) or name}:{port['target']}, "
                                     "and nothing is published outside the project"))
    return out


def _healthcheck(name: str, svc: dict[str, Any]) -> list[Notice]:
    check = svc.get("healthcheck") or {}
    if not check or check.get("disable") or check.get("test"):
        return []
    given = ", ".join(k for k in ("interval", "timeout", "retries", "start_period", "start_interval") if k in check)
    return [Notice(path=f"services.{name}.healthcheck", action="ignored",
                   reason=f"no test: Docker runs the image's own HEALTHCHECK with these timings ({given}); the gateway "
                          "does not read images, so there is no readiness probe. Write the test to get one")]


def _tmpfs(name: str, svc: dict[str, Any]) -> list[Notice]:
    out = []
    for i, item in enumerate(svc.get("tmpfs") or []):
        path, _, options = item.partition(":")
        flags = [o for o in options.split(",") if o in TMPFS_FLAGS and o != "rw"]
        lifted = {f for f in flags if f in ("exec", "suid", "dev")}
        if lifted == {"exec", "suid", "dev"}:
            continue  # what an emptyDir is: nothing lost
        kept = sorted({"noexec", "nosuid", "nodev"} - {"no" + f for f in lifted})
        out.append(Notice(path=f"services.{name}.tmpfs[{i}]", action="approximated",
                          reason=f"{path} is an emptyDir in memory, as Docker's is a tmpfs; Docker mounts it "
                                 f"{','.join(kept)}, which an emptyDir cannot be, so programs there can "
                                 f"{'run' if 'noexec' in kept else 'do what the mount allows'}"))
    return out


def _file_refs(name: str, svc: dict[str, Any]) -> list[Notice]:
    out = []
    for what in ("secrets", "configs"):
        for i, ref in enumerate(svc.get(what) or []):
            where = f"services.{name}.{what}[{i}]"
            owner = [k for k in ("uid", "gid") if ref.get(k) not in (None, "")]
            if owner:
                out.append(Notice(path=where, action="ignored",
                                  reason=f"{'/'.join(owner)} of the mounted file: Docker Compose ignores them too outside "
                                         "swarm, and a Kubernetes file belongs to root (group: the pod's fsGroup); "
                                         "the file is readable through its mode"))
            mode = ref.get("mode")
            try:
                special = units.special_bits(mode) if mode is not None else 0
            except ValueError:
                continue  # refused by the support table
            if special:
                out.append(Notice(path=f"{where}.mode", action="approximated",
                                  reason=f"mode {mode} is {units.file_mode(mode) | special:#o} as Docker reads it (an "
                                         f"unquoted 644 is the decimal number 644); the file gets "
                                         f"{units.file_mode(mode):#o}, as Kubernetes holds no setuid, setgid or sticky "
                                         "bit. Write the mode quoted in octal, e.g. \"0644\", if that was meant"))
    return out


def _network(name: str, svc: dict[str, Any]) -> list[Notice]:
    if not svc.get("dns"):
        return []
    return [Notice(path=f"services.{name}.dns", action="approximated",
                   reason=f"{', '.join(svc['dns'])} are asked after the cluster DNS, which answers the service names "
                          "(as Docker's own resolver does first); they are asked only when it does not answer at all")]


def _external(model: dict[str, Any], namespace: str) -> list[Notice]:
    """External volumes, secrets and configs are not made: say under which name each must already exist."""
    used: dict[str, set[str]] = {"volumes": set(), "secrets": set(), "configs": set()}
    for svc in (model.get("services") or {}).values():
        used["volumes"] |= {v["source"] for v in svc.get("volumes") or [] if v.get("type") == "volume" and v.get("source")}
        for what in ("secrets", "configs"):
            used[what] |= {ref["source"] for ref in svc.get(what) or []}
    out = []
    for what, kind in (("volumes", "PersistentVolumeClaim"), ("secrets", "Secret"), ("configs", "ConfigMap")):
        for source in sorted(used[what]):
            spec = (model.get(what) or {}).get(source) or {}
            if not spec.get("external"):
                continue
            k8s = claim_name(model, source) if what == "volumes" else object_name(model, what, source)
            out.append(Notice(path=f"{what}.{source}", action="approximated",
                              reason=f"external: not made by the gateway; a {kind} named {k8s!r} must already exist in "
                                     f"the namespace {namespace!r}, or the pods that use it do not start"))
    return out
