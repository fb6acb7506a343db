"""Which compose keys have a faithful Kubernetes form: a table, and a pure detector over it.

Every service key and top-level key of the compose specification has one row:
its fate, what it becomes, and (for docs/compose-keys.md) what kompose does with
it. `find_unsupported(model)` walks a model against the table and returns every
place the translation cannot honour, as data; the translator turns that list
into one TranslateError, or with allow_unsupported into Notices. Rows whose
values are only partly mappable carry a check that names the values it cannot
honour; the translator maps only what the checks let through.

Fates:
    mapped    becomes Kubernetes fields (the check refuses values it cannot map)
    applied   already applied on the user's machine by the compose loader; nothing left to map
    ignored   has no effect Kubernetes could reproduce and none Docker Compose's `up` relies on;
              reported as a Notice, never an error
    refused   no faithful form: an error (a Notice with allow_unsupported)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from spin_gateway.translate import units

Fate = Literal["mapped", "applied", "ignored", "refused"]
MAX_REPLICAS = 1000


Place = tuple[str | int, ...]  # keys and list indexes from the model's root, e.g. ("services", "web", "ports", 0)


def render(place: Place) -> str:
    """A place as users read it: services.web.ports[0] (a key with dots stays one key)."""
    out = ""
    for part in place:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


#: What a check returns for each value it cannot map: (place under the key, reason, hint).
Problem = tuple[Place, str, str]


@dataclass(frozen=True)
class Finding:
    """One place the translation cannot honour."""

    place: Place
    reason: str
    hint: str

    @property
    def path(self) -> str:
        return render(self.place)


Check = Callable[[Any, str, dict, dict], list[tuple[Place, str, str]]]  # (value, service, service dict, model) -> (place below the key, reason, hint)


@dataclass(frozen=True)
class Key:
    name: str
    fate: Fate
    becomes: str
    kompose: str
    check: Check | None = None
    why: str = ""  # for refused/ignored: the reason, shown to the user
    hint: str = ""  # for refused: what to do


# -- value checks (pure) ----------------------------------------------------------------------------

_USER = re.compile(r"^(\d+)(?::(\d+))?$")


def parse_user(user: str) -> tuple[int, int | None] | None:
    match = _USER.match(user.strip())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None


def _check_user(value, *_):
    if parse_user(value) is None:
        return [((), f"{value!r} is a user name; Kubernetes runs containers by number (runAsUser) and cannot "
                     "look a name up in the image", "Write the numeric uid[:gid], e.g. user: \"1000:1000\".")]
    return []


def parse_security_opt(item: str) -> dict[str, Any] | None:
    """One security_opt entry as securityContext fields, or None when it has no Kubernetes form."""
    key, _sep, value = re.split(r"([=:])", item, maxsplit=1) if re.search(r"[=:]", item) else (item, "", "")
    key = key.strip()
    if key == "no-new-privileges":
        if value in ("", "true"):
            return {"allowPrivilegeEscalation": False}
        if value == "false":
            return {}
        return None
    if key == "seccomp":
        if value == "unconfined":
            return {"seccompProfile": {"type": "Unconfined"}}
        return None
    if key == "apparmor":
        if value == "unconfined":
            return {"appArmorProfile": {"type": "Unconfined"}}
        if value and re.match(r"^[A-Za-z0-9_.-]+$", value):
            return {"appArmorProfile": {"type": "Localhost", "localhostProfile": value}}
        return None
    if key == "label":
        part, _, setting = value.partition(":")
        field = {"user": "user", "role": "role", "type": "type", "level": "level"}.get(part)
        if field and setting:
            return {"seLinuxOptions": {field: setting}}
        return None
    return None


def _check_security_opt(value, *_):
    return [((i,), f"{item!r} has no Kubernetes securityContext form",
             "Kubernetes maps no-new-privileges, seccomp:unconfined, apparmor:<profile> and label:user|role|type|level:<v>; "
             "remove the others (a seccomp profile file must be installed on the nodes by the site)")
            for i, item in enumerate(value or []) if parse_security_opt(item) is None]


def _check_caps(value, *_):
    return [((i,), f"{cap!r} is not a capability name", "Use names like NET_ADMIN or ALL.")
            for i, cap in enumerate(value or []) if not re.match(r"^(CAP_)?[A-Z_]+$", cap)]


def _check_duration(value, *_):
    try:
        units.seconds(value)
    except ValueError as exc:
        return [((), str(exc), "Write a duration like 10s or 1m30s.")]
    return []


def _check_size(value, *_):
    try:
        units.byte_count(value)
    except ValueError as exc:
        return [((), str(exc), "Write a size like 64m or 1g.")]
    return []


def _check_restart(value, *_):
    if value in ("no", "always", "unless-stopped") or re.match(r"^on-failure(:\d+)?$", value or ""):
        return []
    return [((), f"restart policy {value!r} is not one Docker knows", "Use no, always, unless-stopped or on-failure[:N].")]


def _check_tmpfs(value, *_):
    out: list[Problem] = []
    for i, item in enumerate(value or []):
        path, _, options = item.partition(":")
        if not path.startswith("/"):
            out.append(((i,), f"tmpfs path {path!r} is not an absolute path in the container", "Write /path[:size=64m]."))
            continue
        # The place names the option: --allow-unsupported leaves out that option, never the mount.
        for opt in filter(None, options.split(",")):
            name, _, setting = opt.partition("=")
            if name == "size":
                try:
                    units.byte_count(setting)
                except ValueError:
                    out.append(((i, opt), f"tmpfs size {setting!r} is not a size", "Write size=64m."))
            elif name not in TMPFS_FLAGS:
                out.append(((i, opt), f"tmpfs option {opt!r} has no Kubernetes form (an emptyDir in memory takes only "
                                      "a size; its mode, owner and other mount options are the kubelet's)",
                            "Remove the option; only size= is kept."))
    return out


#: tmpfs options Docker accepts that a memory emptyDir cannot carry, and why that is an approximation,
#: not a refusal: Docker mounts every `tmpfs:` path noexec,nosuid,nodev whether written or not, and an
#: emptyDir can be none of them; `exec`/`suid`/`dev` (Docker's way to lift them) are what the emptyDir is.
TMPFS_FLAGS = ("rw", "noexec", "nosuid", "nodev", "exec", "suid", "dev")


_PROPAGATION = {"rprivate": None, "private": None, "rslave": "HostToContainer", "slave": "HostToContainer",
                "rshared": "Bidirectional", "shared": "Bidirectional"}


def mount_propagation(value: str | None) -> str | None:
    return _PROPAGATION.get(value or "rprivate")


def _check_volumes(value, service, svc, model):
    out: list[Problem] = []
    named = model.get("volumes") or {}
    for i, vol in enumerate(value or []):
        here = (i,)
        kind = vol.get("type")
        if kind in ("npipe", "cluster", "image"):
            out.append((here, f"a {kind} mount has no Kubernetes volume here", "Use a named volume or a bind mount."))
            continue
        bind = vol.get("bind") or {}
        if kind == "bind":
            if bind.get("propagation") and bind["propagation"] not in _PROPAGATION:
                out.append(((*here, "bind", "propagation"), f"propagation {bind['propagation']!r} is unknown", "Use rprivate, rslave or rshared."))
            if bind.get("selinux"):
                out.append(((*here, "bind", "selinux"), "Kubernetes does not relabel host paths for SELinux (:z/:Z)",
                            "Remove :z/:Z; the site labels shared file systems."))
            if bind.get("recursive") not in (None, "", "enabled"):
                out.append(((*here, "bind", "recursive"), "Kubernetes always mounts host paths recursively", "Remove bind.recursive."))
        if kind == "volume" and vol.get("source"):
            if vol["source"] not in named:
                out.append((here, f"the volume {vol['source']!r} is not defined under top-level volumes",
                            "Define it under `volumes:`."))
        if kind == "volume" and (vol.get("volume") or {}).get("labels"):
            out.append(((*here, "volume", "labels"), "labels of a mount have no Kubernetes place", "Put labels on the top-level volume."))
        if kind == "tmpfs":
            tmpfs = vol.get("tmpfs") or {}
            if tmpfs.get("mode") is not None:
                out.append(((*here, "tmpfs", "mode"), "an emptyDir's mode cannot be set", "Remove tmpfs.mode."))
    return out


def _check_named_volumes(value, *_):
    out = _check_top_labels(value)
    for name, spec in (value or {}).items():
        spec = spec or {}
        if spec.get("driver") not in (None, "local"):
            out.append(((name, "driver"), "volume drivers are Docker plugins; Kubernetes provisions storage through "
                                          "the cluster's storage classes", "Remove driver."))
        for opt, setting in (spec.get("driver_opts") or {}).items():
            hint = ("A local volume with o: bind is a bind mount: mount the host path in the service instead."
                    if (spec.get("driver_opts") or {}).get("o") == "bind" else f"Remove driver_opts.{opt}.")
            out.append(((name, "driver_opts", opt), f"driver option {opt}={setting!r} is passed to Docker's local "
                                                    "driver (mount(8)); a claim has the cluster's storage class instead",
                        hint))
    return out


def _check_networks_top(value, *_):
    out = _check_top_labels(value)
    for name, spec in (value or {}).items():
        spec = spec or {}
        if spec.get("external"):
            out.append(((name, "external"), "an external network joins this project's containers to containers of "
                                             "other projects; each project here is its own namespace, and no network "
                                             "spans them", "Remove `external` to make it a network of this project "
                                             "(--allow-unsupported does that: only this project's services share it); "
                                             "reach other projects through their published ports."))
        for key in ("driver", "driver_opts"):
            if spec.get(key) not in (None, "bridge", "overlay", {}):
                out.append(((name, key), "network drivers are Docker's; the cluster network is the site's",
                            f"Remove {key}."))
        if (spec.get("ipam") or {}).get("config") or (spec.get("ipam") or {}).get("driver"):
            out.append(((name, "ipam"), "addresses are assigned by the cluster, not by the compose file", "Remove ipam."))
        if spec.get("enable_ipv6"):
            out.append(((name, "enable_ipv6"), "IP families are the cluster's", "Remove enable_ipv6."))
    return out


def _check_service_networks(value, *_):
    out: list[Problem] = []
    for name, spec in (value or {}).items():
        for key in ("ipv4_address", "ipv6_address", "link_local_ips", "mac_address", "driver_opts",
                    "interface_name"):
            if (spec or {}).get(key):
                out.append(((name, key), f"{key} is assigned by the cluster network, not per service",
                            f"Remove networks.{name}.{key}."))
    return out


def _check_network_mode(value, *_):
    if value in (None, "", "bridge", "default"):
        return []
    if value.startswith(("service:", "container:")):
        return [((), f"network_mode {value!r} shares another container's network namespace (its localhost, its "
                     "ports); each service here is its own pod, and pods share no namespace",
                 f"Remove network_mode and reach {value.split(':', 1)[1]!r} by its name instead of localhost.")]
    return [((), f"network_mode {value!r}: a pod has its own network; it cannot share the host's, or have none",
             "Remove network_mode; services reach each other by name.")]


def _check_secrets_top(value, service, svc, model, what="secret"):
    out = _check_top_labels(value)
    for name, spec in (value or {}).items():
        spec = spec or {}
        if spec.get("external"):
            continue
        if spec.get("content") is None and spec.get("environment") is not None:
            out.append(((name,), f"the {what} comes from the variable {spec['environment']} of the machine that "
                                    "ran spin, and its value was not sent", "Run `spin` on the machine where the variable is set; "
                                    "it reads the value into the request."))
        elif spec.get("content") is None and spec.get("file") is not None:
            out.append(((name,), f"the {what} file {spec['file']} was not read into the request",
                        "Run `spin convert/up/check` where the file exists; the CLI reads it into the request."))
        for key in ("driver", "template_driver", "driver_opts"):  # one finding per key: --allow-unsupported drops each
            if spec.get(key):
                out.append(((name, key), f"{what} drivers are Docker plugins", f"Remove {key}."))
    return out


def _check_configs_top(value, service, svc, model):
    return _check_secrets_top(value, service, svc, model, what="config")


def _check_file_refs(value, service, svc, model):
    out: list[Problem] = []
    for i, ref in enumerate(value or []):
        if ref.get("mode") is not None:
            try:
                units.file_mode(ref["mode"])
            except ValueError as exc:
                out.append(((i, "mode"), str(exc), "Write the mode in octal, e.g. 0440."))
    return out


def _check_ports(value, *_):
    out: list[Problem] = []
    for i, port in enumerate(value or []):
        published = port.get("published")
        # No published port (Docker picks a random host port): an in-cluster port, with a notice.
        if published not in (None, "") and "-" in str(published):
            out.append(((i, "published"), f"a host port range ({published}) for one container port: Docker picks "
                                          "any free one, Kubernetes cannot", "Write one host port."))
    return out


def _check_expose(value, *_):
    out: list[Problem] = []
    for i, item in enumerate(value or []):
        if not re.match(r"^\d{1,5}(-\d{1,5})?(/(tcp|udp|sctp))?$", str(item)):
            out.append(((i,), f"{item!r} is not a port or port range", "Write 8080 or 8000-8010/tcp."))
            continue
        ports = str(item).split("/")[0].split("-")
        if len(ports) == 2 and not (1 <= int(ports[0]) <= int(ports[1]) <= 65535 and int(ports[1]) - int(ports[0]) < 1000):
            out.append(((i,), f"port range {item!r} is empty, reversed or wider than 1000 ports", "Write a narrower range."))
        elif not all(1 <= int(p) <= 65535 for p in ports):
            out.append(((i,), f"{item!r} is outside 1-65535", "Use a port between 1 and 65535."))
    return out


def _check_healthcheck(value, *_):
    out: list[Problem] = []
    test = (value or {}).get("test") or []
    if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        out.append((("test",), f"healthcheck test starts with {test[0]!r}", "Start it with CMD or CMD-SHELL."))
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if (value or {}).get(key) is not None:
            out += [((key, *sub), reason, hint) for sub, reason, hint in _check_duration(value[key])]
    if (value or {}).get("start_interval") is not None:
        out.append((("start_interval",), "Kubernetes probes have one period; a faster one while starting cannot be set",
                    "Remove start_interval."))
    return out


def _check_dns(value, *_):
    out: list[Problem] = [((i,), f"{item!r} is not an IP address", "Write the name server's address.")
                          for i, item in enumerate(value or []) if not is_ip(str(item))]
    if len(value or []) > MAX_NAMESERVERS:
        out.append(((), f"{len(value)} name servers; a pod takes at most {MAX_NAMESERVERS}", "Keep at most three."))
    return out


MAX_NAMESERVERS = 3


def _check_volumes_from(value, service, svc, model):
    """Same-project services only, and only what can be shared between two pods: named volumes and binds."""
    out: list[Problem] = []
    services = model.get("services") or {}
    for i, item in enumerate(value or []):
        source, _, mode = item.partition(":")
        if source == "container":
            out.append(((i,), f"{item!r} mounts the volumes of a container outside the project",
                        "Mount the same named volume in both, or use volumes_from: [<service>]."))
            continue
        if source not in services:
            out.append(((i,), f"{source!r} is not a service of the project", "Name a service of this file."))
            continue
        if mode not in ("", "ro", "rw"):
            out.append(((i,), f"mode {mode!r} is not ro or rw", "Write <service>:ro or <service>:rw."))
        own = {v.get("target") for v in svc.get("volumes") or []}
        for owner, vol in shared_volumes(services, source):
            if vol.get("type") == "volume" and not vol.get("source") and vol.get("target") not in own:
                out.append(((i,), f"{owner}'s anonymous volume at {vol.get('target')} would be shared; an anonymous "
                                  "volume becomes an emptyDir, which two pods cannot share",
                            f"Name the volume in {owner} (a top-level volume), so both mount the same claim."))
    return out


def shared_volumes(services: dict[str, Any], name: str, seen: frozenset[str] = frozenset()) -> list[tuple[str, dict[str, Any]]]:
    """(owner, mount) of everything `volumes_from: [name]` mounts: name's volumes, then those name itself takes
    from others (Docker copies the other container's mounts, its own volumes_from included); first path wins."""
    if name in seen or name not in services:
        return []  # a cycle: Docker Compose refuses it before this
    out: list[tuple[str, dict[str, Any]]] = [(name, v) for v in services[name].get("volumes") or []]
    taken = {v.get("target") for _, v in out}
    for item in services[name].get("volumes_from") or []:
        source, _, mode = item.partition(":")
        for owner, vol in shared_volumes(services, source, seen | {name}):
            if vol.get("target") not in taken:
                taken.add(vol.get("target"))
                out.append((owner, {**vol, "read_only": mode == "ro"} if mode else vol))
    return out


def _check_depends_on(value, service, svc, model):
    out: list[Problem] = []
    for dep, spec in (value or {}).items():
        if dep not in model.get("services", {}) and (spec or {}).get("required", True):
            out.append(((dep,), f"depends on {dep!r}, which is not a service of the project", "Remove it or define the service."))
    return out


def _check_deploy(value, service, svc, model):
    out: list[Problem] = []
    value = value or {}
    if value.get("mode") not in (None, "replicated", "global"):
        out.append((("mode",), f"deploy mode {value['mode']!r}: only replicated services are mapped", "Remove deploy.mode."))
    if (value.get("replicas") or 0) > MAX_REPLICAS:
        out.append((("replicas",), f"{value['replicas']} replicas, more than {MAX_REPLICAS}", f"Ask for at most {MAX_REPLICAS}."))
    for part in ("limits", "reservations"):
        res = ((value.get("resources") or {}).get(part)) or {}
        for key in ("pids", "devices", "generic_resources"):
            if res.get(key):
                out.append((("resources", part, key), f"{key} has no Kubernetes resource form here "
                                                        "(devices and GPUs are the site's device plugins)", f"Remove {key}."))
        if res.get("cpus") is not None:
            try:
                units.quantity_cpus(res["cpus"])
            except ValueError as exc:
                out.append((("resources", part, "cpus"), str(exc), "Write a number of CPUs like 0.5."))
        if res.get("memory") is not None:
            out += [(("resources", part, "memory"), r, h) for _, r, h in _check_size(res["memory"])]
    out += [(("labels", *sub), reason, hint) for sub, reason, hint in _check_labels(value.get("labels"))]
    policy = value.get("restart_policy") or {}
    if policy.get("condition") not in (None, "any", "none", "on-failure"):
        out.append((("restart_policy", "condition"), f"{policy['condition']!r} is not none, on-failure or any", "Use one of those."))
    for key in ("delay", "window"):
        if policy.get(key) is not None:
            out.append((("restart_policy", key), f"Kubernetes backs off restarts on its own schedule; {key} cannot be set",
                        f"Remove restart_policy.{key}."))
    return out


def _check_replicas(value, *_):
    if value is not None and value > MAX_REPLICAS:
        return [((), f"{value} replicas, more than {MAX_REPLICAS}", f"Ask for at most {MAX_REPLICAS}.")]
    return []


def _check_entrypoint(value, *_):
    if value == []:
        return [((), "an empty list clears the image's own; Kubernetes reads an empty list as 'use the image's'",
                 "Write what to run instead.")]
    return []


def _check_extra_hosts(value, *_):
    out: list[Problem] = []
    for i, item in enumerate(value or []):
        host, ip = split_host(item)
        if not host or not is_ip(ip):
            out.append(((i,), f"{item!r}: only HOST=IP (or HOST:IP) entries map to hostAliases", "Write a fixed address."))
    return out


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def split_host(item: str) -> tuple[str, str]:
    if "=" in item:
        host, _, ip = item.partition("=")
    else:
        host, _, ip = item.partition(":")
    return host.strip(), ip.strip().strip("[]")


def _check_stop_signal(value, *_):
    if value in (None, "SIGTERM", "TERM", "15"):
        return []
    return [((), f"stop signal {value}: Kubernetes stops containers with the image's STOPSIGNAL or SIGTERM",
             "Set STOPSIGNAL in the image, or remove stop_signal.")]


def _check_group_add(value, *_):
    return [((i,), f"group {g!r} is a name; Kubernetes adds groups by number", "Write the numeric gid.")
            for i, g in enumerate(value or []) if not str(g).isdigit()]


def _check_pull_policy(value, *_):
    if value in (None, "always", "never", "missing", "if_not_present"):
        return []
    return [((), f"pull_policy {value!r}: Kubernetes pulls always, never or if not present", "Use always, never or missing.")]


def _check_platform(value, *_):
    if re.match(r"^linux/[a-z0-9]+(/[a-z0-9]+)?$", value or ""):
        return []
    return [((), f"platform {value!r}: the cluster runs linux nodes", "Use linux/<arch>, e.g. linux/amd64.")]


def _check_hostname(value, *_):
    if re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", value or ""):
        return []
    return [((), f"hostname {value!r} is not a DNS label (lowercase letters, digits, '-', no dots)", "Write a short lowercase name.")]


def _check_links(value, service, svc, model):
    out: list[Problem] = []
    for i, link in enumerate(value or []):
        target, _, alias = link.partition(":")
        if alias and alias != target:
            out.append(((i,), f"link alias {alias!r} for {target!r}: Kubernetes names a service one way",
                        f"Reach it as {target!r}, or give the service networks.<net>.aliases."))
    return out


def _check_lifecycle(value, *_):
    out: list[Problem] = []
    for i, hook in enumerate(value or []):
        extra = sorted(set(hook or {}) - {"command"})
        if extra:
            out.append(((i,), f"a hook's {', '.join(extra)} cannot be set in Kubernetes (hooks run as the container)",
                        "Keep only command."))
    if len(value or []) > 1:
        out.append(((), "Kubernetes runs one hook per event", "Join the commands into one."))
    return out


def _check_labels(value, *_):
    from spin_gateway.translate.names import is_label_key

    if isinstance(value, list):
        value = dict(item.partition("=")[::2] for item in value)
    out: list[Problem] = []
    for k in value or {}:
        if k.startswith("spin.io/"):
            out.append(((k,), "labels under spin.io/ are the gateway's own (project, owner)", "Rename the label."))
        elif not is_label_key(k):
            out.append(((k,), f"{k!r} is not a key Kubernetes accepts for a label or an annotation",
                        "Use letters, digits, '-', '_' and '.', at most 63, with an optional DNS prefix and '/'."))
    return out


def _check_top_labels(value, *_):
    return [((name, "labels", *sub), reason, hint) for name, spec in (value or {}).items()
            for sub, reason, hint in _check_labels((spec or {}).get("labels"))]


def _check_sysctls(value, *_):
    return [((k,), f"{k!r} is not a sysctl name", "Write names like net.core.somaxconn.")
            for k in (value or {}) if not re.match(r"^[a-z0-9_]+(\.[a-z0-9_/-]+)+$", k)]


# -- the table -------------------------------------------------------------------------------------

def _k(name, fate, becomes, kompose, check=None, why="", hint=""):
    return Key(name, fate, becomes, kompose, check, why, hint)


_REFUSE_HINT = "Remove the key, or pass --allow-unsupported to deploy without it."

SERVICE_KEYS: dict[str, Key] = {k.name: k for k in [
    _k("annotations", "mapped", "pod template annotations", "not read", _check_labels),
    _k("attach", "ignored", "nothing: it only says whether `docker compose up` shows the logs", "not read",
       why="it only controls whether `docker compose up` follows the logs"),
    _k("blkio_config", "refused", "", "not read", why="block I/O weights have no Kubernetes form"),
    _k("build", "mapped", "the image it would build: `image:` when given, else localhost/<project>-<service>:latest "
       "(Docker Compose's name for it), with a notice that it must be built and pushed first; the gateway builds nothing",
       "builds the image locally or in the cluster when asked (--build), then pushes it"),
    _k("cap_add", "mapped", "container securityContext.capabilities.add (CAP_ prefix dropped)", "container capabilities.add", _check_caps),
    _k("cap_drop", "mapped", "container securityContext.capabilities.drop", "container capabilities.drop", _check_caps),
    _k("cgroup", "refused", "", "not read", why="the cgroup namespace is the runtime's"),
    _k("cgroup_parent", "refused", "", "listed as unsupported: a warning, then dropped", why="the cgroup hierarchy is the node's"),
    _k("command", "mapped", "container args (a `$$` of the model is one dollar, as Docker runs it)", "container args", _check_entrypoint),
    _k("configs", "mapped", "a ConfigMap per config, mounted (subPath) at the target with its permission bits "
       "(uid/gid: a notice, as for secrets)",
       "a ConfigMap, mounted at the target", _check_file_refs),
    _k("container_name", "mapped", "one more headless Service of that name, so peers still reach it by it",
       "becomes the object and container name"),
    _k("cpu_count", "refused", "", "not read", why="Windows only"),
    _k("cpu_percent", "refused", "", "not read", why="Windows only"),
    _k("cpu_period", "refused", "", "not read", why="CFS tuning is the node's; use cpus"),
    _k("cpu_quota", "refused", "", "not read", why="CFS tuning is the node's; use cpus"),
    _k("cpu_rt_period", "refused", "", "not read", why="real-time scheduling is the node's"),
    _k("cpu_rt_runtime", "refused", "", "not read", why="real-time scheduling is the node's"),
    _k("cpu_shares", "refused", "", "listed as unsupported: a warning, then dropped", why="relative weights have no Kubernetes form; use cpus"),
    _k("cpus", "mapped", "resources.limits.cpu", "not read (deploy.resources is)"),
    _k("cpuset", "refused", "", "listed as unsupported: a warning, then dropped", why="CPU pinning is the node's (static CPU manager)"),
    _k("credential_spec", "refused", "", "not read", why="Windows only"),
    _k("depends_on", "mapped", "start order: dependencies first in the plan, conditions in the annotation spin.io/depends-on",
       "listed as unsupported: a warning, then dropped", _check_depends_on),
    _k("deploy", "mapped", "replicas, resources, restart_policy (labels: workload labels; update_config, rollback_config, "
       "placement, endpoint_mode are swarm-only and ignored with a Notice; mode global: one replica, as Docker Compose "
       "runs it on one machine, with a notice)", "replicas, resources, placement constraints to node affinity, "
       "update_config (strategy), labels, mode global to DaemonSet, restart_policy", _check_deploy),
    _k("develop", "ignored", "nothing: `docker compose watch` is a development loop", "not read",
       why="`docker compose watch` is a local development loop"),
    _k("device_cgroup_rules", "refused", "", "not read", why="device access is the site's device plugins"),
    _k("devices", "refused", "", "listed as unsupported: a warning, then dropped", why="devices are the site's device plugins"),
    _k("dns", "mapped", "pod dnsConfig.nameservers after the cluster DNS (approximated, with a notice: they are asked "
       "only when the cluster DNS does not answer)", "listed as unsupported: a warning, then dropped", _check_dns),
    _k("dns_opt", "mapped", "pod dnsConfig.options (cluster DNS kept)", "not read", None),
    _k("dns_search", "mapped", "pod dnsConfig.searches (cluster DNS kept)", "listed as unsupported: a warning, then dropped", None),
    _k("domainname", "ignored", "nothing: the pod's domain is the cluster's (<namespace>.svc...)",
       "pod subdomain (a subdomain needs a headless Service of that name to resolve)",
       why="a pod's domain name is the cluster's (<namespace>.svc.<cluster domain>); `hostname -d` in the container "
           "prints that, not the compose value, and no peer resolved the compose one in Docker either"),
    _k("entrypoint", "mapped", "container command", "container command", _check_entrypoint),
    _k("environment", "mapped", "container env (a variable with no value is left out, as Docker leaves it out)", "container env"),
    _k("expose", "mapped", "ports of the service's headless Service", "Service ports", _check_expose),
    _k("external_links", "refused", "", "listed as unsupported: a warning, then dropped", why="links to containers outside the project"),
    _k("extra_hosts", "mapped", "pod hostAliases", "listed as unsupported: a warning, then dropped", _check_extra_hosts),
    _k("gpus", "refused", "", "not read", why="GPUs are the site's device plugins"),
    _k("group_add", "mapped", "pod securityContext.supplementalGroups (numbers only)", "pod supplementalGroups", _check_group_add),
    _k("healthcheck", "mapped", "readinessProbe (exec): interval, timeout, retries, start_period "
       "as periodSeconds, timeoutSeconds, failureThreshold, initialDelaySeconds", "livenessProbe (a readiness probe only through kompose.* labels)", _check_healthcheck),
    _k("hostname", "mapped", "pod hostname", "pod hostname", _check_hostname),
    _k("image", "mapped", "container image", "container image"),
    _k("init", "refused", "", "not read", why="Kubernetes starts no init process (tini) in the container",
       hint="Add tini to the image, or remove init."),
    _k("ipc", "refused", "", "listed as unsupported: a warning, then dropped", why="IPC namespaces are per pod"),
    _k("isolation", "refused", "", "not read", why="Windows only"),
    _k("label_file", "applied", "merged into labels by the loader", "not read"),
    _k("labels", "mapped", "labels of the workload and pods where valid Kubernetes labels, annotations otherwise",
       "annotations; kompose.* labels steer the conversion", _check_labels),
    _k("links", "mapped", "nothing more: every service is already reached by its name (an alias is refused)",
       "listed as unsupported: a warning, then dropped", _check_links),
    _k("logging", "refused", "", "listed as unsupported: a warning, then dropped", why="log drivers are the node's; logs go to the cluster's logging"),
    _k("mac_address", "refused", "", "listed as unsupported: a warning, then dropped", why="addresses are the cluster network's"),
    _k("mem_limit", "mapped", "resources.limits.memory", "resources.limits.memory", _check_size),
    _k("mem_reservation", "mapped", "resources.requests.memory", "resources.requests.memory", _check_size),
    _k("mem_swappiness", "refused", "", "not read", why="swap is the node's"),
    _k("memswap_limit", "refused", "", "listed as unsupported: a warning, then dropped", why="swap is the node's"),
    _k("models", "refused", "", "not read", why="Docker Model Runner is Docker's"),
    _k("network_mode", "mapped", "nothing for bridge/default (a pod has its own network); others refused",
       "listed as unsupported (a warning); service:<name> is read to share a pod", _check_network_mode),
    _k("networks", "mapped", "pod labels network.spin.io/<net> and one NetworkPolicy per network (aliases: more headless Services)",
       "a NetworkPolicy per network", _check_service_networks),
    _k("oom_kill_disable", "refused", "", "not read", why="OOM handling is the node's"),
    _k("oom_score_adj", "refused", "", "not read", why="OOM scores follow the pod's QoS class"),
    _k("pid", "refused", "", "read, but hostPID is not set", why="a pod cannot share the host's PID namespace here"),
    _k("pids_limit", "refused", "", "not read", why="the PID limit is the node's"),
    _k("platform", "mapped", "nodeSelector kubernetes.io/os and kubernetes.io/arch", "not read", _check_platform),
    _k("ports", "mapped", "ports of the headless Service; the published ones in its annotation spin.io/published; "
       "a port with no host port (random in Docker) is an in-cluster port only, with a notice",
       "Service ports (hostPort only with a kompose.* label)", _check_ports),
    _k("post_start", "mapped", "lifecycle.postStart exec", "not read", _check_lifecycle),
    _k("pre_stop", "mapped", "lifecycle.preStop exec", "not read", _check_lifecycle),
    _k("privileged", "mapped", "container securityContext.privileged", "container securityContext.privileged"),
    _k("profiles", "applied", "applied by the loader (--profile)", "applied by compose-go"),
    _k("provider", "refused", "", "not read", why="provider services run Docker plugins"),
    _k("pull_policy", "mapped", "imagePullPolicy", "not read (imagePullPolicy comes from a kompose.* label)", _check_pull_policy),
    _k("pull_refresh_after", "refused", "", "not read", why="pull schedules are the node's"),
    _k("read_only", "mapped", "container securityContext.readOnlyRootFilesystem", "readOnlyRootFilesystem (though also listed as unsupported)"),
    _k("restart", "mapped", "always/unless-stopped (and unset): Deployment; no and on-failure[:N]: a Job (restartPolicy Never/OnFailure, backoffLimit N)",
       "pod restartPolicy; no and on-failure produce a bare Pod", _check_restart),
    _k("runtime", "refused", "", "not read", why="OCI runtimes are named by the site's RuntimeClasses, not by compose",
       hint="Ask the site which RuntimeClass to use; remove runtime."),
    _k("scale", "mapped", "replicas", "not read (deploy.replicas is)", _check_replicas),
    _k("secrets", "mapped", "a Secret per secret, mounted (subPath) at /run/secrets/<name> or the target, with its "
       "permission bits (uid/gid: a notice, Docker Compose ignores them outside swarm too)",
       "a Secret, mounted at the target; external secrets unsupported", _check_file_refs),
    _k("security_opt", "mapped", "securityContext: no-new-privileges to allowPrivilegeEscalation false; seccomp, apparmor, label",
       "listed as unsupported: a warning, then dropped", _check_security_opt),
    _k("shm_size", "mapped", "an emptyDir (medium Memory, sizeLimit) at /dev/shm", "listed as unsupported: a warning, then dropped", _check_size),
    _k("stdin_open", "mapped", "container stdin", "container stdin"),
    _k("stop_grace_period", "mapped", "terminationGracePeriodSeconds (rounded up)", "terminationGracePeriodSeconds", _check_duration),
    _k("stop_signal", "mapped", "nothing for SIGTERM (Kubernetes' own); other signals refused", "listed as unsupported: a warning, then dropped", _check_stop_signal),
    _k("storage_opt", "refused", "", "not read", why="storage driver options are the node's"),
    _k("sysctls", "mapped", "pod securityContext.sysctls", "listed as unsupported: a warning, then dropped", _check_sysctls),
    _k("tmpfs", "mapped", "an emptyDir (medium Memory, sizeLimit from size=) per path; approximated, with a notice: "
       "Docker mounts it noexec,nosuid,nodev, an emptyDir carries no mount flags; other options refused one by one",
       "emptyDir in memory", _check_tmpfs),
    _k("tty", "mapped", "container tty", "container tty"),
    _k("ulimits", "refused", "", "listed as unsupported: a warning, then dropped", why="ulimits are the container runtime's defaults on the node"),
    _k("use_api_socket", "refused", "", "not read", why="the Docker API socket must never reach a workload"),
    _k("user", "mapped", "securityContext runAsUser/runAsGroup (numbers only)", "runAsUser (numbers only)", _check_user),
    _k("userns_mode", "refused", "", "not read", why="user namespaces are the node's"),
    _k("uts", "refused", "", "listed as unsupported: a warning, then dropped", why="a pod cannot share the host's UTS namespace here"),
    _k("volumes", "mapped", "named: PersistentVolumeClaim; no source: emptyDir; bind: hostPath; tmpfs: emptyDir in memory",
       "PVCs by default; host paths are dropped with a warning unless --volumes hostPath", _check_volumes),
    _k("volumes_from", "mapped", "the same named volumes (claims) and bind mounts at the same paths, read-only with :ro; "
       "anonymous volumes and containers outside the project refused", "the other service's volumes, recursively, as the same claims",
       _check_volumes_from),
    _k("working_dir", "mapped", "container workingDir", "container workingDir"),
]}

TOP_LEVEL_KEYS: dict[str, Key] = {k.name: k for k in [
    _k("name", "mapped", "the project: namespace name and label spin.io/project", "compose-go's project name; not used for objects"),
    _k("services", "mapped", "one workload each (see the service keys)", "workloads"),
    _k("networks", "mapped", "one NetworkPolicy per network: services reach each other only over networks they share; "
       "a service only on internal networks may reach only its peers and DNS (an egress policy)",
       "a NetworkPolicy per network; drivers, ipam and the rest not read", _check_networks_top),
    _k("volumes", "mapped", "one PersistentVolumeClaim per named volume used (external: none made; a notice names the claim that must exist)", "top-level volumes reported as unsupported; claims come from the mounts",
       _check_named_volumes),
    _k("secrets", "mapped", "one Secret per secret, with the content the CLI read (external: none made; a notice names the Secret that "
       "must exist)", "Secrets from the files; external secrets unsupported", _check_secrets_top),
    _k("configs", "mapped", "one ConfigMap per config, with the content the CLI read (external: as for secrets)", "ConfigMaps from the files", _check_configs_top),
    _k("models", "refused", "", "not read", why="Docker Model Runner is Docker's"),
    _k("include", "applied", "merged by the loader", "applied by compose-go"),
    _k("version", "applied", "obsolete; read and dropped by the loader with a warning", "ignored by compose-go"),
]}

#: deploy keys Docker Compose itself ignores outside swarm: reported, never refused.
DEPLOY_IGNORED = ("update_config", "rollback_config", "placement", "endpoint_mode")


def _present(value: Any) -> bool:
    return value not in (None, {}, [], "")


def find_unsupported(model: dict[str, Any]) -> list[Finding]:
    """Every place of the model the translation cannot honour, in model order. Pure: reads, never raises."""
    found: list[Finding] = []
    for key, value in model.items():
        row = TOP_LEVEL_KEYS.get(key)
        if row is None or key.startswith("x-") or not _present(value):
            continue
        if row.fate == "refused":
            found.append(Finding((key,), row.why, row.hint or _REFUSE_HINT))
        elif row.check:
            found += [Finding((key, *sub), reason, hint) for sub, reason, hint in row.check(value, "", {}, model)]
    for name, svc in (model.get("services") or {}).items():
        for key, value in svc.items():
            row = SERVICE_KEYS.get(key)
            cleared = key in ("command", "entrypoint") and value == []  # cleared on purpose: not the same as unset
            if row is None or key.startswith("x-") or not (_present(value) or cleared):
                continue
            place = ("services", name, key)
            if row.fate == "refused":
                if value is False:
                    continue  # the default, asked for explicitly
                found.append(Finding(place, row.why, row.hint or _REFUSE_HINT))
            elif row.check:
                found += [Finding((*place, *sub), reason, hint) for sub, reason, hint in row.check(value, name, svc, model)]
        found += _cross_checks(name, svc)
    return found


def _mount_targets(svc: dict[str, Any]) -> list[tuple[Place, str]]:
    """(place, container path) of everything the service mounts, as the translator will mount it."""
    out: list[tuple[Place, str]] = []
    for i, vol in enumerate(svc.get("volumes") or []):
        out.append((("volumes", i), vol.get("target", "")))
    for i, item in enumerate(svc.get("tmpfs") or []):
        out.append((("tmpfs", i), item.partition(":")[0]))
    if svc.get("shm_size") is not None:
        out.append((("shm_size",), "/dev/shm"))
    for what in ("secrets", "configs"):
        for i, ref in enumerate(svc.get(what) or []):
            target = ref.get("target") or ref.get("source", "")
            if what == "secrets" and not target.startswith("/"):
                target = f"/run/secrets/{target}"
            elif not target.startswith("/"):
                target = "/" + target
            out.append(((what, i), target))
    return out


def _request_over_limit(svc: dict[str, Any]) -> list[tuple[Place, str, str]]:
    res = (svc.get("deploy") or {}).get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("reservations") or {}
    pairs: list[tuple[Place, Any, Any, Callable[[Any], float]]] = [(("deploy", "resources", "reservations", "memory"), requests.get("memory"), limits.get("memory") or svc.get("mem_limit"), units.byte_count),
             (("mem_reservation",), svc.get("mem_reservation"), limits.get("memory") or svc.get("mem_limit"), units.byte_count),
             (("deploy", "resources", "reservations", "cpus"), requests.get("cpus"), limits.get("cpus") or svc.get("cpus"), float)]
    out: list[Problem] = []
    for place, request, limit, read in pairs:
        if request is None or limit is None:
            continue
        try:
            if read(request) > read(limit):
                out.append((place, f"the reservation ({request}) is more than the limit ({limit})",
                            "Reserve at most the limit; Docker refuses this too."))
        except (TypeError, ValueError):
            continue  # a malformed value is named by its own check
    return out


def _cross_checks(name: str, svc: dict[str, Any]) -> list[Finding]:
    found = []
    seen: dict[str, Place] = {}
    for place, target in _mount_targets(svc):
        if target in seen:
            found.append(Finding(("services", name, *place), f"{target} is already mounted by {render(seen[target])}",
                                 "Mount one thing per container path."))
        else:
            seen[target] = place
    found += [Finding(("services", name, *place), reason, hint) for place, reason, hint in _request_over_limit(svc)]
    return found


def ignored_keys(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, why) of every key present that is ignored on purpose: reported, never refused."""
    out = []
    for name, svc in (model.get("services") or {}).items():
        for key, value in svc.items():
            row = SERVICE_KEYS.get(key)
            if row is not None and row.fate == "ignored" and _present(value):
                out.append((f"services.{name}.{key}", row.why))
        if svc.get("build"):
            out.append((f"services.{name}.build", build_notice(model.get("name") or "", name, svc)))
        for key in DEPLOY_IGNORED:
            if _present((svc.get("deploy") or {}).get(key)):
                out.append((f"services.{name}.deploy.{key}", "swarm only: Docker Compose ignores it too"))
    return out


#: Where a service that only names a build finds its image: podman tags a local build `localhost/<name>`,
#: and Docker Compose names the image it builds `<project>-<service>` (tag latest).
LOCAL_IMAGE_PREFIX = "localhost/"


def image_of(project: str, service: str, svc: dict[str, Any]) -> str:
    """The image a service runs: its `image:`, or the one Docker Compose would build for it."""
    if svc.get("image"):
        return svc["image"]
    return f"{LOCAL_IMAGE_PREFIX}{project}-{service}".lower() + ":latest"


def build_notice(project: str, service: str, svc: dict[str, Any]) -> str:
    build = svc.get("build") or {}
    image = image_of(project, service, svc)
    context = build.get("context") or "."
    command = f"podman build -t {image}"
    dockerfile = build.get("dockerfile")
    if dockerfile and dockerfile != "Dockerfile":
        command += f" -f {dockerfile if dockerfile.startswith('/') else context.rstrip('/') + '/' + dockerfile}"
    if build.get("target"):
        command += f" --target {build['target']}"
    if build.get("args"):
        command += " --build-arg ..."  # the values are not repeated here: a build argument may hold a secret
    command += f" {context}"
    named = "named by `image:`" if svc.get("image") else "Docker Compose's name for the build"
    return (f"the gateway does not build; it deploys {image} ({named}), which must exist where the pods run: build "
            f"it first (`{command}`) and push it to the registry the site names")
