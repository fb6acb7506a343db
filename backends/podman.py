"""The single-machine backend: approved objects run with `podman kube play`.

Podman runs Pods, not controllers, so each Deployment/StatefulSet becomes one
pod named <namespace>_<service> built from its (already approved and patched)
pod template; a Service's published ports (its spin.io/published annotation, as
the published_ports rule decided it, host address included) become host ports
of the pod it selects (the role kube-proxy plays in a cluster); a PVC becomes a
named podman volume <namespace>_<claim>; each compose network becomes its own
isolated podman network spin_<namespace>_<network>. Namespaces and Kubernetes
names hold no `_`, so these names are injective: no project's name can be
spelt by another's. Every object carries the project and owner labels, and the
backend checks them on every pod, volume and network before it touches one.

Nothing is added after the decision: what the backend derives (host ports,
names, networks, the files of secrets) comes from the decided objects, and what
runs is read back after each apply (runtime_check.py) and compared with them;
a difference stops the project's pods and fails the `up` (RuntimeDrift).

Idempotency: each pod carries the hash of what was played; the same hash
means unchanged, another means `kube play --replace`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import yaml

from spin_gateway.backends import podman_files, runtime_check
from spin_gateway.backends.base import MAX_EXEC_OUTPUT, ProjectInfo, ProjectRef
from spin_gateway.vocabulary.errors import (
    NotFound,
    PodmanError,
    PodmanUnavailable,
    PodmanUnsupported,
    RuntimeDrift,
    WaitTimeout,
    WorkloadFailed,
)
from spin_gateway.vocabulary.labels import (
    ANNOTATION_HASH,
    LABEL_FACILITY_PROJECT,
    LABEL_GRACE,
    LABEL_KIND,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_NETWORK,
    LABEL_OWNER,
    LABEL_PROJECT,
    LABEL_REPLICA,
    LABEL_REPLICAS,
    LABEL_SERVICE,
    NETWORK_LABEL_PREFIX,
    PUBLISHED_ANNOTATION,
    READINESS_ANNOTATION,
)
from spin_gateway.vocabulary.naming import is_dns_label
from spin_gateway.vocabulary.types import Call, CallResult, ExecResult, ServiceStatus

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Pod", "Job"}
#: Kinds that have no podman counterpart on one machine; their effect is carried by the pods.
NOOP_KINDS = {"Namespace", "ServiceAccount"}
#: Where the gateway keeps this backend's state when it names no --state-dir: the project's secrets and configs
#: as files (podman_files.py, readable only by each pod's user) and what each pod was decided as (read back by
#: `spin ps`). Never under a folder a project can mount.
DEFAULT_STATE_DIR = Path("/var/lib/spin")
DEFAULT_FILES_ROOT = DEFAULT_STATE_DIR / "podman-files"
#: A container counts as ready only after running this long without a restart: a crash-looping
#: container is "running" for a moment after each restart.
STABLE_SECONDS = 3.0


def network_name(ref: ProjectRef, network: str = "default") -> str:
    """`_` separates the parts: neither a namespace nor a compose network's DNS name holds one."""
    return f"spin_{ref.namespace}_{network}"


def pod_name(ref: ProjectRef, service: str, replica: int = 1) -> str:
    """The first replica keeps the plain name; others add `_<n>` (a service name holds no `_`: still injective)."""
    return f"{ref.namespace}_{service}" + (f"_{replica}" if replica > 1 else "")


#: What podman 4.3's kube play reads as "restart without limit" for a Job's pod that asks for OnFailure: it has
#: no field for a retry count, so a finite backoffLimit cannot be honoured (and is refused, not dropped).
UNLIMITED_BACKOFF = 2**31 - 1


def replica_count(workload: dict[str, Any]) -> int:
    """How many pods the decided workload asks for: replicas (Deployment, StatefulSet), parallelism (Job)."""
    spec = workload.get("spec") or {}
    if workload["kind"] in {"Deployment", "StatefulSet"}:
        return int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    if workload["kind"] == "Job":
        return int(spec.get("parallelism", 1) if spec.get("parallelism") is not None else 1)
    return 1


def unsupported_restart(workload: dict[str, Any]) -> str | None:
    """Why podman cannot run this Job's restart policy as decided, or None when it can."""
    if workload["kind"] != "Job":
        return None
    spec = workload.get("spec") or {}
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    backoff = spec.get("backoffLimit")
    if policy == "OnFailure" and isinstance(backoff, int) and 0 < backoff < UNLIMITED_BACKOFF:
        return (f"restart on-failure:{backoff} (backoffLimit {backoff}): podman 4.3 can restart a failing container "
                "only without a limit (it would restart it forever, without backoff)")
    return None


def volume_name(ref: ProjectRef, claim: str) -> str:
    return f"{ref.namespace}_{claim}"


def pod_networks(template: dict[str, Any]) -> list[str]:
    """The compose networks a pod is on: the translator's network.spin.io/<net> labels (default if none)."""
    labels = (template.get("metadata") or {}).get("labels") or {}
    return sorted(k.removeprefix(NETWORK_LABEL_PREFIX) for k, v in labels.items()
                  if k.startswith(NETWORK_LABEL_PREFIX) and v == "true") or ["default"]


def carried_policy(policy: dict[str, Any]) -> str | None:
    """How this machine enforces a NetworkPolicy, or None if it cannot (the call is then refused).

    The translator's two ingress shapes are enforced: members of one compose network only (each compose
    network is its own isolated podman network) and a published port (bound only as decided). Anything
    else, egress limits included, podman cannot enforce.
    """
    spec = policy.get("spec") or {}
    name = (policy.get("metadata") or {}).get("name", "")
    if spec.get("policyTypes") != ["Ingress"] or "egress" in spec:
        return None
    selector = (spec.get("podSelector") or {}).get("matchLabels") or {}
    rules = spec.get("ingress") or []
    if len(rules) != 1 or len(selector) != 1:
        return None
    (key, value), = selector.items()
    rule = rules[0]
    if key.startswith(NETWORK_LABEL_PREFIX) and value == "true" and set(rule) == {"from"} \
            and rule["from"] == [{"podSelector": {"matchLabels": {key: "true"}}}]:
        return f"network {key.removeprefix(NETWORK_LABEL_PREFIX)} is its own isolated podman network"
    if key == LABEL_SERVICE and set(rule) == {"ports"} and name.startswith("published-"):
        return "the published ports are bound only on the decided host addresses"
    return None


class PodmanRunner:
    """The one place podman is executed; errors become PodmanError with podman's own words."""

    def __init__(self, binary: str = "podman", timeout: float = 120):
        self.binary = binary
        self.timeout = timeout

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = self.run(*args, stdin=stdin)
        if check and proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip().splitlines()
            raise PodmanError(f"podman {' '.join(args[:2])} failed: {message[-1] if message else proc.returncode}")
        return proc.stdout

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """podman's whole answer (exit code, stdout, stderr), within the timeout."""
        try:
            return subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True,
                                  timeout=self.timeout)
        except FileNotFoundError:
            raise PodmanUnavailable("podman is not installed on the gateway's machine",
                                    hint="Install it (scripts/install.sh) or run the gateway with another --backend.") from None
        except subprocess.TimeoutExpired:
            raise PodmanUnavailable(f"podman {args[0]} did not finish within {self.timeout:g}s") from None

    def succeeds(self, *args: str) -> bool:
        """Whether podman exits 0 (`volume exists`, `network exists`)."""
        return self.run(*args).returncode == 0


def _labels(ref: ProjectRef, service: str | None = None) -> dict[str, str]:
    labels = {LABEL_MANAGED_BY: "spin", LABEL_PROJECT: ref.project, LABEL_OWNER: ref.owner,
              LABEL_FACILITY_PROJECT: ref.facility_project}
    if service:
        labels[LABEL_SERVICE] = service
    return {k: v for k, v in labels.items() if v}


def _pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "Pod":
        return {"metadata": obj.get("metadata", {}), "spec": obj.get("spec", {})}
    if obj["kind"] == "Job":
        return obj["spec"]["template"]
    return obj["spec"]["template"]


def _service_of(obj: dict[str, Any]) -> str:
    labels = obj.get("metadata", {}).get("labels", {})
    return labels.get(LABEL_SERVICE) or obj["metadata"]["name"]


def _published_ports(services: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """service label -> [{containerPort, hostPort, hostIP, protocol}] from the Services that publish.

    Exactly what the published_ports rule decided: an entry it did not give a host address, or one that
    cannot be read, is refused here rather than bound on a default the rule never saw.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for svc in services:
        selector = svc.get("spec", {}).get("selector", {})
        target = selector.get(LABEL_SERVICE)
        raw = svc.get("metadata", {}).get("annotations", {}).get(PUBLISHED_ANNOTATION)
        if not raw:
            continue
        name = svc.get("metadata", {}).get("name")
        try:
            published = json.loads(raw)
            entries = [{"containerPort": int(e["target"]), "hostPort": int(e["published"]),
                        "hostIP": e["host_ip"], "protocol": str(e.get("protocol") or "tcp").upper()}
                       for e in published]
        except (ValueError, TypeError, KeyError) as exc:
            raise PodmanError(f"Service {name}: its {PUBLISHED_ANNOTATION} annotation cannot be read ({exc})",
                              hint="Publish ports with the compose file's ports key.") from None
        if not target or any(not isinstance(e["hostIP"], str) or not e["hostIP"] for e in entries):
            raise PodmanError(f"Service {name}: a published port has no decided host address or pod",
                              hint="The published_ports rule gives every entry one; update the policy library.")
        out.setdefault(target, []).extend(entries)
    return out


def build_pod(ref: ProjectRef, workload: dict[str, Any], publish: list[dict[str, Any]],
              files_root: Path | None = None, sources: Sequence[dict[str, Any]] = (), replica: int = 1) -> dict[str, Any]:
    """The Pod podman plays for one replica of an approved workload (its secrets and configs under files_root)."""
    template = copy.deepcopy(_pod_template(workload))
    service = _service_of(workload)
    spec = template.get("spec", {})
    meta = template.get("metadata", {})
    # The workload's kind and name, so the next plan knows this is an UPDATE of it.
    labels = {**meta.get("labels", {}), **_labels(ref, service), LABEL_KIND: workload["kind"],
              LABEL_NAME: workload["metadata"]["name"],
              LABEL_GRACE: str(spec.get("terminationGracePeriodSeconds", 10)),
              LABEL_REPLICA: str(replica), LABEL_REPLICAS: str(replica_count(workload))}
    for volume in spec.get("volumes", []) or []:
        claim = volume.get("persistentVolumeClaim")
        if claim:
            claim["claimName"] = volume_name(ref, claim["claimName"])
    containers = spec.get("containers", [])
    # podman 4.3's kube play publishes every containerPort on 0.0.0.0 even without a hostPort
    # (fixed upstream later), so an expose-only port would be open to the world. In a cluster a
    # containerPort is informational; the project network reaches every port by alias anyway.
    declared = {c.get("name"): c.pop("ports", None) or [] for c in [*containers, *(spec.get("initContainers") or [])]}
    # podman runs no readiness probes: wait() runs them with `podman exec`, reading each from the decided pod
    # spec the backend keeps (readiness_probes). Not from an annotation: podman 4.3 refuses annotation values
    # over 63 characters, which most real healthchecks are.
    for port in publish:
        # Publish on the container that declares the port, else on the first one.
        owner = next((c for c in containers
                      if any(p.get("containerPort") == port["containerPort"] for p in declared.get(c.get("name"), []))),
                     containers[0] if containers else None)
        if owner is None:
            continue
        ports = owner.setdefault("ports", [])
        existing = next((p for p in ports if p.get("containerPort") == port["containerPort"]
                         and p.get("protocol", "TCP").upper() == port["protocol"]), None)
        if existing is None:
            existing = {"containerPort": port["containerPort"], "protocol": port["protocol"]}
            ports.append(existing)
        existing["hostPort"] = port["hostPort"]
        existing["hostIP"] = port["hostIP"]
    if workload["kind"] in {"Deployment", "StatefulSet"}:
        spec.setdefault("restartPolicy", "Always")
    files_digest = podman_files.materialise(files_root, ref.namespace, spec, list(sources)) if files_root else ""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name(ref, service, replica), "labels": labels,
                     "annotations": dict(meta.get("annotations", {}) or {})},
        "spec": spec,
    }
    digest = hashlib.sha256(json.dumps(pod, sort_keys=True).encode() + files_digest.encode()).hexdigest()[:16]
    pod["metadata"]["annotations"][ANNOTATION_HASH] = digest
    return pod


#: podman's words for a play that failed because of the workload, and what the user can do about each.
_PLAY_FAILURES = (
    (("initializing source", "manifest unknown", "image not known", "short-name", "unable to pull",
      "requested access to the resource is denied", "repository not found"),
     "its image cannot be pulled",
     "Check the image name and tag in the compose file (`spin config`), and that the gateway's machine can reach "
     "its registry."),
    (("address already in use", "port is already allocated", "cannot listen on the tcp port"),
     "a host port it publishes is taken on the gateway's machine",
     "Publish another host port in the compose file's ports key, or stop what holds it (`spin ps`, `spin ls`)."),
)


def play_failure(service: str, podman_says: str) -> WorkloadFailed | None:
    """A failed `kube play` as the error the user can act on: a workload failure (exit 4) with a reason and a
    specific hint when podman's words say which; None leaves podman's own error (exit 4 too: the backend answered)."""
    lowered = podman_says.lower()
    for needles, reason, hint in _PLAY_FAILURES:
        if any(n in lowered for n in needles):
            return WorkloadFailed(f"service {service} did not start: {reason} ({podman_says})", hint,
                                  service=service, reason=reason)
    return None


def readiness_probes(spec: dict[str, Any] | None) -> dict[str, list[str]]:
    """container name -> its readiness probe's command, from a decided pod spec (no length limit)."""
    probes = {}
    for container in (spec or {}).get("containers") or []:
        command = ((container.get("readinessProbe") or {}).get("exec") or {}).get("command")
        if command:
            probes[container.get("name", "")] = command
    return probes


def _owned(labels: dict[str, str] | None, ref: ProjectRef) -> bool:
    """The object is this project's: podman's label filters are not trusted to have said so."""
    labels = labels or {}
    return (labels.get(LABEL_MANAGED_BY) == "spin" and labels.get(LABEL_PROJECT) == ref.project
            and (not ref.facility_project or labels.get(LABEL_FACILITY_PROJECT, "") == ref.facility_project))


def _host_path_checks(spec: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Each decided bind source as the host sees it now: refused if a symlink makes it another path.

    The rules decided the path as written; the kernel follows symlinks when podman mounts it, so a link in
    one's own home to another home would mount that home. Returns the owners, to find a mount that
    changed them (podman's :U). A symlink a container creates after its mount is the node's to contain.
    """
    owners = {}
    for volume in spec.get("volumes") or []:
        path = (volume.get("hostPath") or {}).get("path")
        if not isinstance(path, str):
            continue
        real = os.path.realpath(path)
        if real != path:
            raise PodmanUnsupported(f"volume {volume.get('name')}: {path} is {real} on this machine (a symbolic link), "
                              "which is not what the policy decided",
                              hint="Mount the real folder; the policy decides it as written.")
        try:
            st = os.stat(path)
            owners[path] = (st.st_uid, st.st_gid)
        except OSError:
            pass  # podman reports a missing folder in its own words
    return owners


class PodmanBackend:
    name = "podman"

    def __init__(self, runner: PodmanRunner | None = None, files_root: Path | str | None = None,
                 state_dir: Path | str | None = None):
        self.podman = runner or PodmanRunner()
        state = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
        self.files_root = Path(files_root) if files_root is not None else state / "podman-files"
        #: What each pod was decided as (pod spec, ports, networks, owners), for the read-back of `spin ps`.
        self.decided_root = state / "podman-decided"

    # -- reading -------------------------------------------------------------

    def _pods(self, ref: ProjectRef | None = None) -> list[dict[str, Any]]:
        args = ["pod", "ps", "--format", "json", "--filter", f"label={LABEL_MANAGED_BY}=spin"]
        if ref is not None:
            args = ["pod", "ps", "--format", "json", "--filter", f"label={LABEL_PROJECT}={ref.project}"]
        pods = json.loads(self.podman(*args) or "[]") or []
        if ref is None:
            return [p for p in pods if (p.get("Labels") or {}).get(LABEL_MANAGED_BY) == "spin"]
        return [p for p in pods if _owned(p.get("Labels"), ref)]

    def _inspect_pod(self, name: str) -> dict[str, Any] | None:
        out = self.podman("pod", "inspect", name, check=False)
        if not out.strip():
            return None
        data = json.loads(out)
        if isinstance(data, list):
            return data[0] if data else None
        return data

    def _labels_of(self, what: str, name: str) -> dict[str, str] | None:
        """The labels of an existing volume or network, None if there is none by that name."""
        out = self.podman(what, "inspect", name, check=False)
        try:
            data = json.loads(out or "[]")
        except ValueError:
            return None
        if isinstance(data, list):
            data = data[0] if data else None
        # volume inspect says "Labels", network inspect "labels"
        return (data.get("Labels") or data.get("labels") or {}) if isinstance(data, dict) else None

    def _volumes(self, ref: ProjectRef) -> list[str]:
        # One label filter, then every label checked here: podman 4.3 ORs repeated label filters on
        # `volume ls` (while `pod ps` ANDs them), so two filters listed every spin volume on the machine.
        out = self.podman("volume", "ls", "--format", "json", "--filter", f"label={LABEL_PROJECT}={ref.project}")
        return [v["Name"] for v in json.loads(out or "[]") or [] if _owned(v.get("Labels"), ref)]

    def _networks(self, ref: ProjectRef) -> list[str]:
        out = self.podman("network", "ls", "--format", "json", "--filter", f"label={LABEL_PROJECT}={ref.project}")
        return [n["name"] if "name" in n else n.get("Name") for n in json.loads(out or "[]") or []
                if _owned(n.get("labels") or n.get("Labels"), ref)]

    def existing(self, ref: ProjectRef) -> ProjectInfo | None:
        pods = self._pods(ref)
        volumes = self._volumes(ref) if not pods else []
        if not pods and not volumes:
            return None
        labels = pods[0].get("Labels", {}) if pods else {}
        return ProjectInfo(ref.project, ref.namespace, labels.get(LABEL_OWNER, ""),
                           labels.get(LABEL_FACILITY_PROJECT, ""),
                           sorted(p.get("Labels", {}).get(LABEL_SERVICE, "") for p in pods))

    def existing_objects(self, ref: ProjectRef) -> set[tuple[str, str]]:
        found = set()
        for pod in self._pods(ref):
            labels = pod.get("Labels", {})
            if labels.get(LABEL_KIND) and labels.get(LABEL_NAME):
                found.add((labels[LABEL_KIND], labels[LABEL_NAME]))
        for volume in self._volumes(ref):
            found.add(("PersistentVolumeClaim", volume.removeprefix(volume_name(ref, ""))))
        return found

    def list_projects(self) -> list[ProjectInfo]:
        projects: dict[str, ProjectInfo] = {}
        for pod in self._pods():
            labels = pod.get("Labels", {})
            name = labels.get(LABEL_PROJECT, "")
            info = projects.setdefault(name, ProjectInfo(name, name, labels.get(LABEL_OWNER, ""),
                                                         labels.get(LABEL_FACILITY_PROJECT, "")))
            info.services.append(labels.get(LABEL_SERVICE, ""))
        return sorted(projects.values(), key=lambda p: p.project)

    # -- changing ------------------------------------------------------------

    def apply(self, ref: ProjectRef, calls: list[Call]) -> list[CallResult]:
        objects = [c.object for c in calls]
        unsupported = sorted({o["kind"] for o in objects} - WORKLOAD_KINDS - NOOP_KINDS
                             - {"Service", "PersistentVolumeClaim", "ConfigMap", "Secret", "NetworkPolicy"})
        if unsupported:
            raise PodmanUnsupported(f"the podman backend cannot run {', '.join(unsupported)} objects",
                              hint="Use --backend kubernetes for these, or remove them from the compose file.")
        carried = {}
        for obj in objects:
            if obj["kind"] == "NetworkPolicy":
                how = carried_policy(obj)
                if how is None:
                    raise PodmanUnsupported(f"NetworkPolicy {obj['metadata'].get('name')}: podman cannot enforce it on one "
                                      "machine (only members-only compose networks and published ports are)",
                                      hint="Remove `internal: true` or the rule it comes from, "
                                           "or run the project with --backend kubernetes.")
                carried[obj["metadata"].get("name")] = how
        publish = _published_ports([o for o in objects if o["kind"] == "Service"])
        results: list[CallResult] = []
        config_docs = [c.object for c in calls if c.kind in {"ConfigMap", "Secret"}]
        workloads = [c for c in calls if c.kind in WORKLOAD_KINDS]
        # Everything checked before anything changes: names another project holds, symlinked bind sources.
        pods = []
        for call in workloads:
            service = _service_of(call.object)
            template = _pod_template(call.object)
            owners = _host_path_checks(template.get("spec") or {})
            count = replica_count(call.object)
            for replica in range(1, count + 1):
                self._check_not_foreign("pod", pod_name(ref, service, replica), ref)
            restart = unsupported_restart(call.object)
            if restart:
                raise PodmanUnsupported(f"service {service}: {restart}; nothing was changed",
                                        hint="Use `restart: on-failure` (no limit) or `restart: \"no\"` on this "
                                             "machine, or run the project with --backend kubernetes, which honours "
                                             "the limit.", service=service)
            if count > 1 and publish.get(service):
                raise PodmanUnsupported(f"service {service}: {count} replicas cannot all publish host port(s) "
                                        f"{', '.join(str(p['hostPort']) for p in publish[service])} on one machine; "
                                        "nothing was changed",
                                        hint="Leave out the host port (`ports: ['8080']`) or run one replica, "
                                             "as docker compose requires too.", service=service)
            if len(pod_networks(template)) > 1:
                # Tried: a pod on two CNI networks gets both networks' dnsname servers in resolv.conf and the
                # first answers NXDOMAIN for the other's names, so half its peers would not resolve.
                raise PodmanUnsupported(f"service {service} is on several compose networks "
                                  f"({', '.join(pod_networks(template))}); podman 4.3 resolves the names of only "
                                  "one of them for a pod, so the podman backend cannot run it as compose means it",
                                  hint="Put the service on one network, or run the project with --backend kubernetes.")
            for net in pod_networks(template):
                self._check_not_foreign("network", network_name(ref, net), ref)
            pods.append((call, service, template, owners))
        for call in calls:
            if call.kind == "PersistentVolumeClaim":
                self._check_not_foreign("volume", volume_name(ref, call.name), ref)
        for call in calls:
            kind = call.kind
            if kind == "NetworkPolicy":
                results.append(CallResult(call_id=call.id, kind=kind, name=call.name, action="enforced",
                                          message=carried[call.name]))
            elif kind in NOOP_KINDS or kind in {"Service", "ConfigMap", "Secret"}:
                # Nothing to create on one machine: the pods carry their effect (a first up must not
                # read "unchanged Namespace/...").
                results.append(CallResult(call_id=call.id, kind=kind, name=call.name, action="skipped",
                                          message="carried by the project's pods on this machine"))
            elif kind == "PersistentVolumeClaim":
                results.append(self._ensure_volume(ref, call))
        wanted = set()
        played = []
        for call, service, template, owners in pods:
            nets = pod_networks(template)
            for net in nets:
                self._ensure_network(ref, net)
            # One pod per replica, as a ReplicaSet would make them: `ps` counts them as ready/desired.
            for replica in range(1, replica_count(call.object) + 1):
                pod = build_pod(ref, call.object, publish.get(service, []), self.files_root, config_docs, replica)
                wanted.add(pod["metadata"]["name"])
                results.append(self._play(call, pod, ref, nets))
                decided = {"spec": pod["spec"], "networks": [network_name(ref, n) for n in nets],
                           "ports": [[p["hostIP"], p["hostPort"], p["containerPort"], p["protocol"]]
                                     for p in publish.get(service, [])],
                           "owners": {k: list(v) for k, v in owners.items()}, "job": call.kind == "Job"}
                self._save_decided(ref, pod["metadata"]["name"], decided)
                played.append((pod["metadata"]["name"], decided))
        for pod in self._pods(ref):
            if pod["Name"] not in wanted and pod.get("Labels", {}).get(LABEL_SERVICE) in ref.keep_services:
                continue  # an orphan the up keeps (the gateway's notice says so)
            if pod["Name"] not in wanted:  # a service the compose file no longer has, or a replica scaled away
                self._remove_pod(pod)
                results.append(CallResult(call_id="prune", kind="Pod", name=pod["Name"], action="deleted",
                                          message="no longer in the project"))
        self._verify_or_stop(ref, played)
        return results

    def _check_not_foreign(self, what: str, name: str, ref: ProjectRef) -> None:
        """A pod, volume or network by this name that is not the project's own is never touched."""
        if what == "pod":
            info = self._inspect_pod(name)
            labels = None if info is None else (info.get("Labels") or {})
        else:
            labels = self._labels_of(what, name)
        if labels is not None and not _owned(labels, ref):
            raise PodmanError(f"a podman {what} named {name} exists and is not project {ref.project}'s; "
                              "nothing was changed",
                              hint="Pick another project or service name; the other one belongs to someone else.")

    def _ensure_volume(self, ref: ProjectRef, call: Call) -> CallResult:
        name = volume_name(ref, call.name)
        if self._labels_of("volume", name) is not None:  # ownership was checked before anything changed
            return CallResult(call_id=call.id, kind=call.kind, name=call.name, action="unchanged")
        args = ["volume", "create"]
        for key, value in _labels(ref).items():
            args += ["--label", f"{key}={value}"]
        self.podman(*args, name)
        return CallResult(call_id=call.id, kind=call.kind, name=call.name, action="created", message=f"volume {name}")

    def _volume_exists(self, name: str) -> bool:
        return self.podman.succeeds("volume", "exists", name)

    def _ensure_network(self, ref: ProjectRef, network: str) -> None:
        """One isolated network per compose network: members reach each other by service name (dnsname), and
        podman's isolate option drops traffic between isolated networks, so no other project's pod reaches it."""
        name = network_name(ref, network)
        if self._labels_of("network", name) is not None:
            return
        args = ["network", "create", "--opt", "isolate=true"]
        for key, value in {**_labels(ref), LABEL_NETWORK: network}.items():
            args += ["--label", f"{key}={value}"]
        self.podman(*args, name)

    def _remove_pods(self, pods: list[dict[str, Any]]) -> None:
        """Remove the pods in parallel; the first failure is raised once every removal has finished."""
        if len(pods) <= 1:
            for pod in pods:
                self._remove_pod(pod)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(pods), 16), thread_name_prefix="podman-rm") as pool:
            outcomes = [pool.submit(self._remove_pod, pod) for pod in pods]
        for outcome in outcomes:
            outcome.result()

    def _remove_pod(self, pod: dict[str, Any]) -> None:
        grace = pod.get("Labels", {}).get(LABEL_GRACE, "10")
        self.podman("pod", "rm", "-f", "-t", grace if grace.isdigit() else "10", pod["Name"])

    def _play(self, call: Call, pod: dict[str, Any], ref: ProjectRef, networks: list[str]) -> CallResult:
        name = pod["metadata"]["name"]
        current = self._inspect_pod(name)
        want = pod["metadata"]["annotations"][ANNOTATION_HASH]
        if current is not None:
            have = (current.get("Labels") or {}).get(ANNOTATION_HASH) or self._pod_hash(current)
            # A Job that ran to its end stays done, as a cluster leaves a completed Job alone.
            settled = current.get("State") == "Running" or call.kind == "Job"
            if have == want and settled and not ref.recreate:
                return CallResult(call_id=call.id, kind=call.kind, name=call.name, action="unchanged", message=name)
        # The hash also goes in a label: podman keeps pod labels, not pod annotations.
        pod["metadata"]["labels"][ANNOTATION_HASH] = want
        documents = yaml.safe_dump(pod, sort_keys=True)
        args = ["kube", "play"]
        for net in networks:
            args += ["--network", f"{network_name(ref, net)}:alias={_service_of(call.object)}"]
        if current is not None:
            args.append("--replace")
        try:
            self.podman(*args, "-", stdin=documents)
        except PodmanError as exc:
            # A failed play (a host port taken, say) can leave a pod in Created state that holds
            # the name and the port: remove it, so the error leaves nothing behind.
            if self._inspect_pod(name) is not None:
                self.podman("pod", "rm", "-f", "-t", "0", name, check=False)
            known = play_failure(_service_of(call.object), exc.message)
            if known is None:
                raise
            raise known from None
        return CallResult(call_id=call.id, kind=call.kind, name=call.name,
                          action="configured" if current is not None else "created", message=name)

    @staticmethod
    def _pod_hash(inspect: dict[str, Any]) -> str | None:
        return (inspect.get("Labels") or {}).get(ANNOTATION_HASH)

    def delete(self, ref: ProjectRef, calls: list[Call], volumes: bool) -> list[CallResult]:
        """Remove what the approved DELETE calls name; a pod or volume made since the plan was decided stays,
        and so do the project's networks and files while anything of it is left."""
        approved = {(c.kind, c.name): c.id for c in calls}
        results: list[CallResult] = []
        left = False
        doomed = []
        for pod in self._pods(ref):
            labels = pod.get("Labels", {})
            call_id = approved.get((labels.get(LABEL_KIND, ""), labels.get(LABEL_NAME, "")))
            if call_id is None:
                left = True
                results.append(CallResult(call_id="down", kind="Pod", name=pod["Name"], action="skipped",
                                          message="not in the approved plan"))
                continue
            doomed.append((pod, call_id))
        # All pods stop at once, as compose stops containers: each waits its own grace period (10 s for a process
        # that ignores SIGTERM), and one after the other a project of N services took N times as long.
        self._remove_pods([pod for pod, _ in doomed])
        results += [CallResult(call_id=call_id, kind="Pod", name=pod["Name"], action="deleted") for pod, call_id in doomed]
        for name in self._volumes(ref):
            call_id = approved.get(("PersistentVolumeClaim", name.removeprefix(volume_name(ref, ""))))
            if call_id is None or not volumes:
                left = True
                if call_id is not None:
                    results.append(CallResult(call_id=call_id, kind="PersistentVolumeClaim", name=name,
                                              action="skipped", message="volume kept; `spin down -v` removes it"))
                continue
            self.podman("volume", "rm", "-f", name)
            results.append(CallResult(call_id=call_id, kind="PersistentVolumeClaim", name=name, action="deleted"))
        # The project's networks, files and decision records go with its Namespace call, once nothing is left
        # that still uses them (a kept volume uses none of them).
        pods_left = left and any(r.kind == "Pod" and r.action == "skipped" for r in results)
        if ("Namespace", ref.namespace) in approved and not pods_left:
            for name in self._networks(ref):
                self.podman("network", "rm", "-f", name)
            podman_files.remove(self.files_root, ref.namespace)
            self._forget_decided(ref)
        return results

    # -- compose's lifecycle verbs -------------------------------------------

    def _service_pods(self, ref: ProjectRef, services: list[str]) -> list[dict[str, Any]]:
        pods = self._pods(ref)
        known = {p.get("Labels", {}).get(LABEL_SERVICE) for p in pods}
        missing = sorted(set(services) - known)
        if missing:
            raise NotFound(f"project {ref.project} has no service {', '.join(map(repr, missing))}",
                           hint="`spin ps` lists its services.")
        return [p for p in pods if not services or p.get("Labels", {}).get(LABEL_SERVICE) in services]

    def lifecycle(self, ref: ProjectRef, action: str, services: list[str]) -> list[CallResult]:
        """podman's own pod stop/start/restart: the same pods, as decided (nothing is re-created)."""
        pods = self._service_pods(ref, services)

        def one(pod: dict[str, Any]) -> CallResult:
            grace = pod.get("Labels", {}).get(LABEL_GRACE, "10")
            timeout = ["-t", grace if grace.isdigit() else "10"] if action in ("stop", "restart") else []
            if action == "restart":
                self.podman("pod", "stop", *timeout, pod["Name"])
                self.podman("pod", "start", pod["Name"])
            else:
                self.podman("pod", action, *timeout, pod["Name"])
            past = {"stop": "stopped", "start": "started", "restart": "restarted"}[action]
            return CallResult(call_id=action, kind="Pod", name=pod["Name"], action="configured", message=past)

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(len(pods), 16))) as pool:  # in parallel, as compose does
            return list(pool.map(one, pods))

    def exec(self, ref: ProjectRef, service: str, command: list[str], timeout: float) -> ExecResult:
        pods = [p for p in self._service_pods(ref, [service]) if p.get("Status", "").lower() == "running"]
        if not pods:
            raise WorkloadFailed(f"service {service} is not running, so nothing can run in it",
                                 hint="`spin start` or `spin up` starts it; `spin ps` shows its state.")
        pod = min(pods, key=lambda p: p["Name"])  # the first replica, as `docker compose exec` picks index 1
        info = self._inspect_pod(pod["Name"]) or {}
        ids = [c["Id"] for c in info.get("Containers", []) if c.get("Id") != info.get("InfraContainerID")]
        if not ids:
            raise WorkloadFailed(f"service {service} has no container to run the command in")
        runner = PodmanRunner(self.podman.binary, timeout=timeout) if isinstance(self.podman, PodmanRunner) else self.podman
        proc = runner.run("exec", ids[0], *command)
        output = (proc.stdout + proc.stderr)[-MAX_EXEC_OUTPUT:]
        return ExecResult(service=service, exit_code=proc.returncode, output=output)

    # -- what runs, read back ------------------------------------------------

    def _decided_file(self, ref: ProjectRef, pod: str) -> Path:
        return self.decided_root / ref.namespace / f"{pod}.json"

    def _save_decided(self, ref: ProjectRef, pod: str, decided: dict[str, Any]) -> None:
        path = self._decided_file(ref, pod)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(decided))
        os.chmod(tmp, 0o600)  # it names the secrets' files, not their contents, but is nobody else's business
        os.replace(tmp, path)

    def _load_decided(self, ref: ProjectRef, pod: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._decided_file(ref, pod).read_text())
        except (OSError, ValueError):
            return None

    def _forget_decided(self, ref: ProjectRef) -> None:
        import shutil
        if is_dns_label(ref.namespace):
            shutil.rmtree(self.decided_root / ref.namespace, ignore_errors=True)

    def observe(self, pod: str) -> runtime_check.Observed | None:
        """What the pod runs with: podman inspect, and /proc/<pid>/status of each container's first process."""
        info = self._inspect_pod(pod)
        if info is None:
            return None
        containers = {}
        prefix = f"{pod}-"
        for entry in info.get("Containers", []):
            if entry.get("Id") == info.get("InfraContainerID"):
                continue
            c = self._inspect_container(entry["Id"])
            if not c:
                continue
            name = c.get("Name", "").removeprefix(prefix)
            host = c.get("HostConfig") or {}
            mounts = []
            for m in c.get("Mounts") or []:
                source = m.get("Name") if m.get("Type") == "volume" else m.get("Source", "")
                owner = None
                if m.get("Type") == "bind":
                    try:
                        st = os.stat(m.get("Source", ""))
                        owner = (st.st_uid, st.st_gid)
                    except OSError:
                        pass
                mounts.append(runtime_check.ObservedMount(m.get("Destination", ""), source or "", m.get("Type", ""),
                                                          not m.get("RW", True), owner))
            pid = (c.get("State") or {}).get("Pid") or 0
            status = None
            if (c.get("State") or {}).get("Status") == "running" and pid:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    status = None
            if status is not None:
                containers[name] = runtime_check.ObservedContainer.from_proc(
                    name, bool(host.get("Privileged")), status, mounts)
            else:
                containers[name] = runtime_check.ObservedContainer(name=name, running=False,
                                                                   privileged=bool(host.get("Privileged")),
                                                                   mounts=mounts)
        infra = info.get("InfraConfig") or {}
        ports = set()
        for key, binds in (infra.get("PortBindings") or {}).items():
            container_port, _, proto = key.partition("/")
            for b in binds or []:
                ports.add((b.get("HostIp") or "0.0.0.0", int(b.get("HostPort") or 0), int(container_port),
                           (proto or "tcp").upper()))
        return runtime_check.Observed(containers=containers, ports=ports, networks=set(infra.get("Networks") or []))

    def verify(self, ref: ProjectRef, pod: str, decided: dict[str, Any]) -> list[str]:
        observed = self.observe(pod)
        if observed is None:
            return []
        return runtime_check.compare(
            decided["spec"], observed, ports={tuple(p) for p in decided.get("ports", [])},
            networks=set(decided.get("networks", [])),
            owners={k: tuple(v) for k, v in (decided.get("owners") or {}).items()})

    def _verify_or_stop(self, ref: ProjectRef, played: list[tuple[str, dict[str, Any]]]) -> None:
        """Read back each pod just played; any difference stops the project's pods and fails the up."""
        drift = {}
        for name, decided in played:
            diffs = self.verify(ref, name, decided)
            if diffs:
                drift[name] = diffs
        if not drift:
            return
        for pod in self._pods(ref):
            self.podman("pod", "stop", "-t", "0", pod["Name"], check=False)
        summary = "; ".join(f"{pod}: {', '.join(d)}" for pod, d in drift.items())
        raise RuntimeDrift(f"what runs differs from what the policy decided, so the project's pods were stopped: "
                           f"{summary}", drift=drift)

    # -- observing -----------------------------------------------------------

    def status(self, ref: ProjectRef) -> list[ServiceStatus]:
        out = []
        for pod in self._pods(ref):
            info = self._inspect_pod(pod["Name"]) or {}
            ids = [c["Id"] for c in info.get("Containers", []) if c.get("Id") != info.get("InfraContainerID")]
            containers = [c for c in map(self._inspect_container, ids) if c]
            job = pod.get("Labels", {}).get(LABEL_KIND) == "Job"
            decided = self._load_decided(ref, pod["Name"])
            probes = readiness_probes((decided or {}).get("spec"))
            states = [self._container_state(pod["Name"], c, job=job, probes=probes) for c in containers]
            ports = []
            for mapping in ((info.get("InfraConfig") or {}).get("PortBindings") or {}).items():
                container_port, binds = mapping
                for b in binds or []:
                    ports.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{container_port}")
            not_ready = [f"{name}: {why}" for name, ok, why in states if not ok]
            ready = bool(containers) and not not_ready
            state = (info.get("State") or pod.get("Status", "")).lower()
            if job and ready and all((c.get("State") or {}).get("Status") == "exited" for c in containers):
                state = "completed"
            elif not job and state == "exited":
                # A restarting workload's pod never rests as exited: `spin stop` stopped it (compose's "stopped").
                state, not_ready = "stopped", []
            if decided is None:
                verified = "unknown: no decision on record for this pod"
            else:
                diffs = self.verify(ref, pod["Name"], decided)
                verified = "drift: " + "; ".join(diffs) if diffs else "as decided"
            labels = pod.get("Labels", {})
            desired = labels.get(LABEL_REPLICAS, "1")
            out.append(ServiceStatus(
                service=labels.get(LABEL_SERVICE, pod["Name"]), kind="Pod", verified=verified,
                ready=1 if ready else 0, desired=int(desired) if desired.isdigit() else 1,
                state=state if ready or not not_ready else f"{state}, not ready",
                ports=sorted(ports), restarts=sum(int(c.get("RestartCount") or 0) for c in containers),
                age_seconds=_age(info.get("Created")), message="; ".join(not_ready),
            ))
        return _by_service(out)

    def _inspect_container(self, container_id: str) -> dict[str, Any] | None:
        out = self.podman("container", "inspect", container_id, check=False)
        try:
            data = json.loads(out or "[]")
        except ValueError:
            return None
        return data[0] if isinstance(data, list) and data else None

    def _container_state(self, pod_name: str, container: dict[str, Any], *, job: bool = False,
                         probes: dict[str, list[str]] | None = None) -> tuple[str, bool, str]:
        """(name, ready, why not): running, up STABLE_SECONDS without a restart, its readiness probe passing.

        A Job's container is done, not failing, when it exited with code 0.
        """
        name = container.get("Name", "?").removeprefix(f"{pod_name}-")
        state = container.get("State") or {}
        restarts = int(container.get("RestartCount") or 0)
        if job and state.get("Status") == "exited" and state.get("ExitCode") == 0:
            return name, True, ""
        if state.get("Status") != "running":
            return name, False, f"{state.get('Status', 'unknown')} (exit code {state.get('ExitCode')}, {restarts} restarts)"
        up = _age(state.get("StartedAt"))
        if up is not None and up < STABLE_SECONDS:
            return name, False, f"started {up:g}s ago" + (f" after {restarts} restarts (crash loop?)" if restarts else "")
        command: Any = (probes or {}).get(name)
        # A pod played before the probes were kept with the decision carries its probe as an annotation.
        legacy = ((container.get("Config") or {}).get("Annotations") or {}).get(f"{READINESS_ANNOTATION}.{name}")
        if command is None and legacy:
            try:
                command = json.loads(legacy)
            except ValueError:
                command = False
        if command is not None:
            if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
                return name, False, "its readiness probe cannot be read"
            try:
                proc = self.podman.run("exec", container["Id"], *command)
            except PodmanError as exc:  # it did not finish in time
                return name, False, f"readiness probe: {exc.message}"
            if proc.returncode != 0:
                return name, False, f"readiness probe failed (exit code {proc.returncode})"
        return name, True, ""

    def wait(self, ref: ProjectRef, timeout: float) -> list[ServiceStatus]:
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.status(ref)
            if statuses and all(s.ready >= s.desired for s in statuses):
                return statuses
            if time.monotonic() >= deadline:
                waiting = [s for s in statuses if s.ready < s.desired]
                reasons = "; ".join(f"{s.service}: {s.state}" + (f" ({s.message})" if s.message else "")
                                    + self._why(ref, s.service) for s in waiting)
                raise WaitTimeout(f"not ready after {timeout:g}s: {reasons or 'no pods'}", data=[s.model_dump() for s in statuses])
            time.sleep(0.5)

    def _why(self, ref: ProjectRef, service: str) -> str:
        lines = list(self.logs(ref, service, tail=3, since=None))
        return f" (last log lines: {' | '.join(lines)})" if lines else ""

    def logs(self, ref: ProjectRef, service: str | None, tail: int | None, since: str | None,
             timestamps: bool = False) -> Iterator[str]:
        pods = self._pods(ref)
        if service and service not in {p.get("Labels", {}).get(LABEL_SERVICE) for p in pods}:
            raise NotFound(f"project {ref.project} has no service {service!r}", hint="`spin ps` lists its services.")
        for pod in pods:
            svc = pod.get("Labels", {}).get(LABEL_SERVICE, pod["Name"])
            if service and svc != service:
                continue
            info = self._inspect_pod(pod["Name"]) or {}
            for container in info.get("Containers", []):
                if container.get("Id") == info.get("InfraContainerID"):
                    continue
                args = ["logs"]
                if tail is not None:
                    args += ["--tail", str(tail)]
                if since:
                    args += ["--since", since]
                if timestamps:
                    args.append("--timestamps")
                proc = self.podman.run(*args, container["Id"])
                for line in (proc.stdout + proc.stderr).splitlines():
                    yield f"{svc} | {line}"


def _by_service(pods: list[ServiceStatus]) -> list[ServiceStatus]:
    """One line per service, as `docker compose ps --format` counts replicas: ready pods / desired pods."""
    grouped: dict[str, list[ServiceStatus]] = {}
    for status in pods:
        grouped.setdefault(status.service, []).append(status)
    out = []
    for service, group in sorted(grouped.items()):
        if len(group) == 1:
            out.append(group[0])
            continue
        ready = sum(s.ready for s in group)
        states = sorted({s.state for s in group})
        verified = sorted({s.verified for s in group})
        ages = [s.age_seconds for s in group if s.age_seconds is not None]
        out.append(ServiceStatus(
            service=service, kind="Pod", ready=ready, desired=max(s.desired for s in group),
            state=states[0] if len(states) == 1 else ", ".join(states), ports=sorted({p for s in group for p in s.ports}),
            restarts=sum(s.restarts for s in group), age_seconds=min(ages) if ages else None,
            message="; ".join(f"replica {i}: {s.message}" for i, s in enumerate(group, 1) if s.message),
            verified=verified[0] if len(verified) == 1 else "; ".join(verified)))
    return out


def _age(created: str | None) -> float | None:
    if not created:
        return None
    from datetime import datetime
    try:
        # podman prints nanoseconds; Python parses microseconds
        head, _, rest = created.partition(".")
        frac = "".join(ch for ch in rest if ch.isdigit())[:6]
        tz = rest[len("".join(ch for ch in rest if ch.isdigit())):]
        stamp = datetime.fromisoformat(f"{head}.{frac or '0'}{tz}".replace("Z", "+00:00"))
        return round((datetime.now(UTC) - stamp).total_seconds(), 1)
    except ValueError:
        return None
