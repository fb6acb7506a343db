"""The single-machine backend: approved objects run with `podman kube play`.

Podman runs Pods, not controllers, so each Deployment/StatefulSet becomes one
pod named <namespace>-<service> built from its (already approved and patched)
pod template; a Service's published ports become host ports on 127.0.0.1 of
the pod it selects (the role kube-proxy plays in a cluster); a PVC becomes a
named podman volume <namespace>-<claim>. Everything carries the project and
owner labels, so `down` finds exactly the project's pods and volumes.

Idempotency: each pod carries the hash of what was played; the same hash
means unchanged, another means `kube play --replace`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import yaml

from spin_gateway.backends import podman_files
from spin_gateway.backends.base import (
    ANNOTATION_HASH,
    LABEL_FACILITY_PROJECT,
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    LABEL_PROJECT,
    LABEL_SERVICE,
    ProjectInfo,
    ProjectRef,
)
from spin_gateway.vocabulary.errors import PodmanError, WaitTimeout
from spin_gateway.vocabulary.types import Call, CallResult, ServiceStatus

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Pod", "Job"}
#: Kinds that have no podman counterpart on one machine; their effect is carried by the pods.
NOOP_KINDS = {"Namespace", "NetworkPolicy", "ServiceAccount"}
PUBLISHED_ANNOTATION = "spin.io/published"
LABEL_KIND = "spin.io/kind"
LABEL_NAME = "spin.io/name"
LABEL_GRACE = "spin.io/grace-seconds"
#: Where the project's secrets and configs are written as files (podman_files.py).
DEFAULT_FILES_ROOT = Path("/var/lib/spin/podman-files")
#: A container counts as ready only after running this long without a restart: a crash-looping
#: container is "running" for a moment after each restart.
STABLE_SECONDS = 3.0
READINESS_ANNOTATION = "spin.io/readiness"


def network_name(ref: ProjectRef) -> str:
    return f"spin-{ref.namespace}"


class PodmanRunner:
    """The one place podman is executed; errors become PodmanError with podman's own words."""

    def __init__(self, binary: str = "podman", timeout: float = 120):
        self.binary = binary
        self.timeout = timeout

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        try:
            proc = subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True,
                                  timeout=self.timeout)
        except FileNotFoundError:
            raise PodmanError("podman is not installed on the gateway's machine",
                              hint="Install it (scripts/install.sh) or run the gateway with another --backend.") from None
        except subprocess.TimeoutExpired:
            raise PodmanError(f"podman {args[0]} did not finish within {self.timeout:g}s") from None
        if check and proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip().splitlines()
            raise PodmanError(f"podman {' '.join(args[:2])} failed: {message[-1] if message else proc.returncode}")
        return proc.stdout


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
    """service label -> [{containerPort, hostPort, hostIP, protocol}] from the Services that publish."""
    out: dict[str, list[dict[str, Any]]] = {}
    for svc in services:
        selector = svc.get("spec", {}).get("selector", {})
        target = selector.get(LABEL_SERVICE)
        raw = svc.get("metadata", {}).get("annotations", {}).get(PUBLISHED_ANNOTATION)
        if not target or not raw:
            continue
        try:
            published = json.loads(raw)
        except ValueError:
            continue
        for entry in published:
            out.setdefault(target, []).append({
                "containerPort": int(entry["target"]),
                "hostPort": int(entry["published"]),
                "hostIP": entry.get("host_ip") or "127.0.0.1",
                "protocol": str(entry.get("protocol", "tcp")).upper(),
            })
    return out


def build_pod(ref: ProjectRef, workload: dict[str, Any], publish: list[dict[str, Any]],
              files_root: Path | None = None, sources: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """The Pod podman plays for one approved workload (its secrets and configs written under files_root)."""
    template = copy.deepcopy(_pod_template(workload))
    service = _service_of(workload)
    spec = template.get("spec", {})
    meta = template.get("metadata", {})
    # The workload's kind and name, so the next plan knows this is an UPDATE of it.
    labels = {**meta.get("labels", {}), **_labels(ref, service), LABEL_KIND: workload["kind"],
              LABEL_NAME: workload["metadata"]["name"],
              LABEL_GRACE: str(spec.get("terminationGracePeriodSeconds", 10))}
    for volume in spec.get("volumes", []) or []:
        claim = volume.get("persistentVolumeClaim")
        if claim:
            claim["claimName"] = f"{ref.namespace}-{claim['claimName']}"
    containers = spec.get("containers", [])
    # podman 4.3's kube play publishes every containerPort on 0.0.0.0 even without a hostPort
    # (fixed upstream later), so an expose-only port would be open to the world. In a cluster a
    # containerPort is informational; the project network reaches every port by alias anyway.
    declared = {c.get("name"): c.pop("ports", None) or [] for c in [*containers, *(spec.get("initContainers") or [])]}
    for container in containers:
        probe = (container.get("readinessProbe") or {}).get("exec", {}).get("command")
        if probe:  # podman runs no readiness probes: wait() runs them with `podman exec`
            meta.setdefault("annotations", {})[f"{READINESS_ANNOTATION}.{container['name']}"] = json.dumps(probe)
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
        "metadata": {"name": f"{ref.namespace}-{service}", "labels": labels,
                     "annotations": dict(meta.get("annotations", {}) or {})},
        "spec": spec,
    }
    digest = hashlib.sha256(json.dumps(pod, sort_keys=True).encode() + files_digest.encode()).hexdigest()[:16]
    pod["metadata"]["annotations"][ANNOTATION_HASH] = digest
    return pod


class PodmanBackend:
    name = "podman"

    def __init__(self, runner: PodmanRunner | None = None, files_root: Path | str = DEFAULT_FILES_ROOT):
        self.podman = runner or PodmanRunner()
        self.files_root = Path(files_root)

    # -- reading -------------------------------------------------------------

    def _pods(self, ref: ProjectRef | None = None) -> list[dict[str, Any]]:
        args = ["pod", "ps", "--format", "json", "--filter", f"label={LABEL_MANAGED_BY}=spin"]
        if ref is not None:
            args += ["--filter", f"label={LABEL_PROJECT}={ref.project}"]
        return json.loads(self.podman(*args) or "[]") or []

    def _inspect_pod(self, name: str) -> dict[str, Any] | None:
        out = self.podman("pod", "inspect", name, check=False)
        if not out.strip():
            return None
        data = json.loads(out)
        if isinstance(data, list):
            return data[0] if data else None
        return data

    def _volumes(self, ref: ProjectRef) -> list[str]:
        out = self.podman("volume", "ls", "--format", "json", "--filter", f"label={LABEL_PROJECT}={ref.project}",
                          "--filter", f"label={LABEL_MANAGED_BY}=spin")
        return [v["Name"] for v in json.loads(out or "[]") or []]

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
            found.add(("PersistentVolumeClaim", volume.removeprefix(f"{ref.namespace}-")))
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
                             - {"Service", "PersistentVolumeClaim", "ConfigMap", "Secret"})
        if unsupported:
            raise PodmanError(f"the podman backend cannot run {', '.join(unsupported)} objects",
                              hint="Use --backend kubernetes for these, or remove them from the compose file.")
        publish = _published_ports([o for o in objects if o["kind"] == "Service"])
        results: list[CallResult] = []
        config_docs = [c.object for c in calls if c.kind in {"ConfigMap", "Secret"}]
        for call in calls:
            kind = call.kind
            if kind in NOOP_KINDS or kind in {"Service", "ConfigMap", "Secret"}:
                # Nothing to create on one machine: the pods carry their effect (a first up must not
                # read "unchanged Namespace/...").
                results.append(CallResult(call_id=call.id, kind=kind, name=call.name, action="skipped",
                                          message="carried by the project's pods on this machine"))
            elif kind == "PersistentVolumeClaim":
                results.append(self._ensure_volume(ref, call))
        wanted = set()
        workloads = [c for c in calls if c.kind in WORKLOAD_KINDS]
        if workloads:
            self._ensure_network(ref)
        for call in workloads:
            pod = build_pod(ref, call.object, publish.get(_service_of(call.object), []), self.files_root, config_docs)
            wanted.add(pod["metadata"]["name"])
            results.append(self._play(call, pod, ref))
        for pod in self._pods(ref):
            if pod["Name"] not in wanted:  # a service the compose file no longer has
                self._remove_pod(pod)
                results.append(CallResult(call_id="prune", kind="Pod", name=pod["Name"], action="deleted",
                                          message="no longer in the project"))
        return results

    def _ensure_volume(self, ref: ProjectRef, call: Call) -> CallResult:
        name = f"{ref.namespace}-{call.name}"
        if self._volume_exists(name):
            return CallResult(call_id=call.id, kind=call.kind, name=call.name, action="unchanged")
        args = ["volume", "create"]
        for key, value in _labels(ref).items():
            args += ["--label", f"{key}={value}"]
        self.podman(*args, name)
        return CallResult(call_id=call.id, kind=call.kind, name=call.name, action="created", message=f"volume {name}")

    def _volume_exists(self, name: str) -> bool:
        try:
            subprocess.run([self.podman.binary, "volume", "exists", name], check=True, capture_output=True, timeout=30)
            return True
        except subprocess.CalledProcessError:
            return False

    def _ensure_network(self, ref: ProjectRef) -> None:
        """One network per project: services reach each other by service name (aardvark DNS), as in a cluster."""
        name = network_name(ref)
        if subprocess.run([self.podman.binary, "network", "exists", name], capture_output=True).returncode == 0:
            return
        args = ["network", "create"]
        for key, value in _labels(ref).items():
            args += ["--label", f"{key}={value}"]
        self.podman(*args, name)

    def _remove_pod(self, pod: dict[str, Any]) -> None:
        grace = pod.get("Labels", {}).get(LABEL_GRACE, "10")
        self.podman("pod", "rm", "-f", "-t", grace if grace.isdigit() else "10", pod["Name"])

    def _play(self, call: Call, pod: dict[str, Any], ref: ProjectRef) -> CallResult:
        name = pod["metadata"]["name"]
        current = self._inspect_pod(name)
        want = pod["metadata"]["annotations"][ANNOTATION_HASH]
        if current is not None:
            have = (current.get("Labels") or {}).get(ANNOTATION_HASH) or self._pod_hash(current)
            # A Job that ran to its end stays done, as a cluster leaves a completed Job alone.
            settled = current.get("State") == "Running" or call.kind == "Job"
            if have == want and settled:
                return CallResult(call_id=call.id, kind=call.kind, name=call.name, action="unchanged", message=name)
        # The hash also goes in a label: podman keeps pod labels, not pod annotations.
        pod["metadata"]["labels"][ANNOTATION_HASH] = want
        documents = yaml.safe_dump(pod, sort_keys=True)
        args = ["kube", "play", "--network", f"{network_name(ref)}:alias={_service_of(call.object)}"]
        if current is not None:
            args.append("--replace")
        try:
            self.podman(*args, "-", stdin=documents)
        except PodmanError:
            # A failed play (a host port taken, say) can leave a pod in Created state that holds
            # the name and the port: remove it, so the error leaves nothing behind.
            if self._inspect_pod(name) is not None:
                self.podman("pod", "rm", "-f", "-t", "0", name, check=False)
            raise
        return CallResult(call_id=call.id, kind=call.kind, name=call.name,
                          action="configured" if current is not None else "created", message=name)

    @staticmethod
    def _pod_hash(inspect: dict[str, Any]) -> str | None:
        return (inspect.get("Labels") or {}).get(ANNOTATION_HASH)

    def delete(self, ref: ProjectRef, calls: list[Call], volumes: bool) -> list[CallResult]:
        results = []
        for pod in self._pods(ref):
            self._remove_pod(pod)
            results.append(CallResult(call_id="down", kind="Pod", name=pod["Name"], action="deleted"))
        if subprocess.run([self.podman.binary, "network", "exists", network_name(ref)], capture_output=True).returncode == 0:
            self.podman("network", "rm", "-f", network_name(ref))
        podman_files.remove(self.files_root, ref.namespace)
        if volumes:
            for name in self._volumes(ref):
                self.podman("volume", "rm", "-f", name)
                results.append(CallResult(call_id="down", kind="PersistentVolumeClaim", name=name, action="deleted"))
        return results

    # -- observing -----------------------------------------------------------

    def status(self, ref: ProjectRef) -> list[ServiceStatus]:
        out = []
        for pod in self._pods(ref):
            info = self._inspect_pod(pod["Name"]) or {}
            ids = [c["Id"] for c in info.get("Containers", []) if c.get("Id") != info.get("InfraContainerID")]
            containers = [self._inspect_container(i) for i in ids]
            containers = [c for c in containers if c]
            job = pod.get("Labels", {}).get(LABEL_KIND) == "Job"
            states = [self._container_state(pod["Name"], c, job=job) for c in containers]
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
            out.append(ServiceStatus(
                service=pod.get("Labels", {}).get(LABEL_SERVICE, pod["Name"]), kind="Pod",
                ready=1 if ready else 0, desired=1,
                state=state if ready or not not_ready else f"{state}, not ready",
                ports=sorted(ports), restarts=sum(int(c.get("RestartCount") or 0) for c in containers),
                age_seconds=_age(info.get("Created")), message="; ".join(not_ready),
            ))
        return sorted(out, key=lambda s: s.service)

    def _inspect_container(self, container_id: str) -> dict[str, Any] | None:
        out = self.podman("container", "inspect", container_id, check=False)
        try:
            data = json.loads(out or "[]")
        except ValueError:
            return None
        return data[0] if isinstance(data, list) and data else None

    def _container_state(self, pod_name: str, container: dict[str, Any], *, job: bool = False) -> tuple[str, bool, str]:
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
        probe = ((container.get("Config") or {}).get("Annotations") or {}).get(f"{READINESS_ANNOTATION}.{name}")
        if probe:
            try:
                command = json.loads(probe)
            except ValueError:
                command = None
            if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
                return name, False, "its readiness probe cannot be read"
            try:
                proc = subprocess.run([self.podman.binary, "exec", container["Id"], *command], capture_output=True,
                                      text=True, timeout=self.podman.timeout)
            except subprocess.TimeoutExpired:
                return name, False, "readiness probe timed out"
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

    def logs(self, ref: ProjectRef, service: str | None, tail: int | None, since: str | None) -> Iterator[str]:
        for pod in self._pods(ref):
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
                proc = subprocess.run([self.podman.binary, *args, container["Id"]], capture_output=True, text=True,
                                      timeout=self.podman.timeout)
                for line in (proc.stdout + proc.stderr).splitlines():
                    yield f"{svc} | {line}"


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
