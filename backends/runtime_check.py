"""What runs, compared with what was decided: backend-neutral.

`expected(pod_spec)` reads the decided pod spec (after the policy's patches, as the
backend realised it); a backend fills an `Observed` record from what actually runs
(podman inspect and /proc/<pid>/status of each container's first process on podman, the
pod status and the kubelet's view on Kubernetes); `compare` names every difference in a
sentence a user can act on. An empty list means the pod runs as decided.

Excess is what matters: a container that runs with fewer capabilities than decided, or a
mount that is read-only though read-write was allowed, grants nothing more, but is still
reported, since the promise is "exactly what was decided".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Linux capability numbers (include/uapi/linux/capability.h), for reading CapEff and friends.
CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
]

#: The set a root container gets when it drops nothing: podman 4.3's containers.conf default (read from a
#: container: CapEff 00000000800405fb). containerd's adds NET_RAW, MKNOD and AUDIT_WRITE: a Kubernetes read-back
#: passes its own set as `default_caps`.
RUNTIME_DEFAULT_CAPS = frozenset({"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                                  "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def caps_of(mask_hex: str) -> set[str]:
    """'00000000a80425fb' -> {'CHOWN', ...}; unknown high bits keep their number."""
    mask = int(mask_hex, 16)
    return {CAPABILITIES[i] if i < len(CAPABILITIES) else f"CAP_{i}" for i in range(64) if mask >> i & 1}


def parse_proc_status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


@dataclass
class ObservedMount:
    destination: str
    source: str  # host path of a bind, volume name of a named volume
    kind: str  # "bind" | "volume" | other
    read_only: bool
    owner: tuple[int, int] | None = None  # of the host source, for binds


@dataclass
class ObservedContainer:
    name: str
    running: bool
    privileged: bool
    uid: int | None = None
    gid: int | None = None
    groups: set[int] = field(default_factory=set)
    cap_eff: set[str] = field(default_factory=set)
    cap_prm: set[str] = field(default_factory=set)
    cap_amb: set[str] = field(default_factory=set)
    seccomp: int | None = None  # 0 off, 1 strict, 2 filter
    no_new_privs: bool | None = None
    mounts: list[ObservedMount] = field(default_factory=list)

    @classmethod
    def from_proc(cls, name: str, privileged: bool, status_text: str, mounts: list[ObservedMount]) -> ObservedContainer:
        s = parse_proc_status(status_text)
        uid = int(s["Uid"].split()[1]) if "Uid" in s else None
        gid = int(s["Gid"].split()[1]) if "Gid" in s else None
        return cls(name=name, running=True, privileged=privileged, uid=uid, gid=gid,
                   groups={int(g) for g in s.get("Groups", "").split()},
                   cap_eff=caps_of(s.get("CapEff", "0")), cap_prm=caps_of(s.get("CapPrm", "0")),
                   cap_amb=caps_of(s.get("CapAmb", "0")),
                   seccomp=int(s["Seccomp"]) if "Seccomp" in s else None,
                   no_new_privs=s.get("NoNewPrivs") == "1" if "NoNewPrivs" in s else None, mounts=mounts)


@dataclass
class Observed:
    containers: dict[str, ObservedContainer]
    ports: set[tuple[str, int, int, str]] | None = None  # (host ip, host port, container port, PROTO)
    networks: set[str] | None = None


@dataclass
class ExpectedContainer:
    name: str
    uid: int | None
    gid: int | None
    groups: set[int] | None  # None: not decided (the image's user)
    privileged: bool
    caps: set[str]  # the most the container may hold
    seccomp_filtered: bool
    no_new_privs: bool
    mounts: dict[str, tuple[str, str, bool]]  # destination -> (kind, source, read only)


def _sc_caps(sc: dict[str, Any]) -> tuple[set[str], set[str]]:
    caps = sc.get("capabilities") or {}
    norm = lambda c: str(c).upper().removeprefix("CAP_")  # noqa: E731
    return {norm(c) for c in caps.get("add") or []}, {norm(c) for c in caps.get("drop") or []}


def expected(pod_spec: dict[str, Any], default_caps: frozenset[str] = RUNTIME_DEFAULT_CAPS) -> dict[str, ExpectedContainer]:
    pod_sc = pod_spec.get("securityContext") or {}
    volumes = {v.get("name"): v for v in pod_spec.get("volumes") or []}
    out = {}
    for c in [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]:
        sc = c.get("securityContext") or {}
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        add, drop = _sc_caps(sc)
        privileged = bool(sc.get("privileged"))
        if privileged:
            caps = set(CAPABILITIES)
        elif uid not in (None, 0):
            caps = add - drop if "ALL" not in drop else add  # a non-root user holds only what is added
        else:
            caps = (add | (set() if "ALL" in drop else set(default_caps))) - (drop - add)
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        groups = None
        if uid is not None:
            groups = {g for g in [gid, *(pod_sc.get("supplementalGroups") or []), pod_sc.get("fsGroup")] if g is not None}
        mounts = {}
        for m in c.get("volumeMounts") or []:
            v = volumes.get(m.get("name"), {})
            if "hostPath" in v:
                mounts[m["mountPath"]] = ("bind", v["hostPath"]["path"], bool(m.get("readOnly")))
            elif "persistentVolumeClaim" in v:
                mounts[m["mountPath"]] = ("volume", v["persistentVolumeClaim"]["claimName"],
                                          bool(m.get("readOnly") or v["persistentVolumeClaim"].get("readOnly")))
            else:
                mounts[m["mountPath"]] = ("other", "", bool(m.get("readOnly")))
        out[c["name"]] = ExpectedContainer(
            name=c["name"], uid=uid, gid=gid, groups=groups, privileged=privileged, caps=caps,
            seccomp_filtered=not privileged and seccomp != "Unconfined",
            no_new_privs=sc.get("allowPrivilegeEscalation") is False, mounts=mounts)
    return out


def compare(pod_spec: dict[str, Any], observed: Observed, *, ports: set[tuple[str, int, int, str]] | None = None,
            networks: set[str] | None = None, owners: dict[str, tuple[int, int]] | None = None,
            default_caps: frozenset[str] = RUNTIME_DEFAULT_CAPS) -> list[str]:
    """Every difference between the decided pod spec (plus the decided published ports, networks and the
    owners of bind sources before the apply) and what runs, one sentence each."""
    diffs: list[str] = []
    want = expected(pod_spec, default_caps)
    for name, exp in want.items():
        obs = observed.containers.get(name)
        if obs is None:
            continue  # not created (yet): readiness reports it, there is nothing running to compare
        where = f"container {name}"
        if obs.privileged != exp.privileged:
            diffs.append(f"{where}: privileged is {obs.privileged}, decided {exp.privileged}")
        for m in obs.mounts:
            decided = exp.mounts.get(m.destination)
            if decided is None:
                diffs.append(f"{where}: {m.kind} mount at {m.destination} from {m.source or '?'} was never decided")
                continue
            kind, source, read_only = decided
            if kind in ("bind", "volume") and (m.kind, m.source) != (kind, source):
                diffs.append(f"{where}: {m.destination} is mounted from {m.kind} {m.source}, decided {kind} {source}")
            if m.read_only != read_only:
                diffs.append(f"{where}: {m.destination} is mounted {'read-only' if m.read_only else 'read-write'}, "
                             f"decided {'read-only' if read_only else 'read-write'}")
            before = (owners or {}).get(m.source) if m.kind == "bind" else None
            if before is not None and m.owner is not None and m.owner != before:
                diffs.append(f"{where}: the owner of {m.source} changed from {before[0]}:{before[1]} to "
                             f"{m.owner[0]}:{m.owner[1]} when it was mounted")
        for dest, (kind, _source, _ro) in exp.mounts.items():
            if kind in ("bind", "volume") and obs.running and not any(m.destination == dest for m in obs.mounts):
                diffs.append(f"{where}: the decided {kind} mount at {dest} is missing")
        if not obs.running:
            continue  # /proc is only there while it runs
        if exp.uid is not None and obs.uid != exp.uid:
            diffs.append(f"{where}: runs as uid {obs.uid}, decided {exp.uid}")
        if exp.gid is not None and obs.gid != exp.gid:
            diffs.append(f"{where}: runs as gid {obs.gid}, decided {exp.gid}")
        if exp.groups is not None and obs.groups - exp.groups:
            diffs.append(f"{where}: holds groups {sorted(obs.groups - exp.groups)} that were never decided")
        for label, held in (("effective", obs.cap_eff), ("permitted", obs.cap_prm), ("ambient", obs.cap_amb)):
            extra = held - exp.caps
            if extra:
                diffs.append(f"{where}: {label} capabilities {sorted(extra)} were never decided")
        if exp.seccomp_filtered and obs.seccomp != 2:
            diffs.append(f"{where}: runs with seccomp mode {obs.seccomp}, decided a seccomp filter (mode 2)")
        if exp.no_new_privs and obs.no_new_privs is not True:
            diffs.append(f"{where}: no_new_privs is off, decided allowPrivilegeEscalation: false")
    if ports is not None and observed.ports is not None and observed.ports != ports:
        fmt = lambda s: ", ".join(f"{ip}:{hp}->{cp}/{pr.lower()}" for ip, hp, cp, pr in sorted(s)) or "none"  # noqa: E731
        diffs.append(f"published ports are {fmt(observed.ports)}, decided {fmt(ports)}")
    if networks is not None and observed.networks is not None and observed.networks != networks:
        diffs.append(f"the pod is on networks {sorted(observed.networks)}, decided {sorted(networks)}")
    return diffs
