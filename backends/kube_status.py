"""Reading a project's health from Kubernetes objects: plain functions, no I/O.

Why a pod or workload is not ready, in a researcher's words (unschedulable with
the scheduler's reason, image pulls, crash loops, quota), how many replicas are
ready, which ports a service has, and `--since` as the log API wants it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from spin_gateway.backends.base import ProjectRef
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.labels import LABEL_MANAGED_BY, LABEL_PROJECT, LABEL_SERVICE, PUBLISHED_ANNOTATION

IMAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}

def meta_of(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return meta_of(obj).get("labels") or {}


def project_selector(ref: ProjectRef) -> str:
    return f"{LABEL_MANAGED_BY}=spin,{LABEL_PROJECT}={ref.project}"


def age(obj: dict[str, Any]) -> float | None:
    stamp = meta_of(obj).get("creationTimestamp")
    if not stamp:
        return None
    created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return round((datetime.now(UTC) - created).total_seconds(), 1)


def parse_since(since: str | None) -> dict[str, Any]:
    """`--since` as the log API's sinceSeconds (10s, 5m, 1h30m) or sinceTime (RFC 3339)."""
    if not since:
        return {}
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", since.strip())
    if match and any(match.groups()):
        h, m, s = (int(g or 0) for g in match.groups())
        return {"sinceSeconds": max(1, h * 3600 + m * 60 + s)}
    try:
        stamp = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {since!r} is neither a duration nor a time",
                         hint="Use a duration such as 10m or 1h30m, or a time such as 2024-05-01T10:00:00Z.") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return {"sinceTime": stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def pod_problem(pod: dict[str, Any]) -> tuple[str, str | None] | None:
    """Why a pod is not ready, in a researcher's words, and the container whose last logs explain it."""
    status = pod.get("status") or {}
    scheduled = condition(pod, "PodScheduled")
    bound = bool((pod.get("spec") or {}).get("nodeName"))
    # A bound pod is scheduled, whatever a late write of the scheduler's condition says.
    if scheduled and scheduled.get("status") == "False" and not bound:
        why = scheduled.get("message") or scheduled.get("reason") or "no reason given"
        return f"cannot be placed on any node: {why}", None
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in IMAGE_REASONS:
            return f"image {cs.get('image')} cannot be pulled ({reason}): {waiting.get('message', '')}".rstrip(": "), None
        if reason == "CrashLoopBackOff":
            last = ((cs.get("lastState") or {}).get("terminated") or {})
            code = last.get("exitCode")
            return (f"container {cs['name']} keeps crashing (restarted {cs.get('restartCount', 0)} times"
                    f"{f', last exit code {code}' if code is not None else ''})"), cs["name"]
        if reason in {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}:
            return f"container {cs['name']} cannot start: {waiting.get('message', reason)}", None
        terminated = (cs.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode"):
            return f"container {cs['name']} exited with code {terminated['exitCode']}", cs["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        return "waiting to be placed on a node", None
    if status.get("phase") == "Pending":
        return "starting on node " + pod["spec"]["nodeName"], None
    ready = condition(pod, "Ready")
    if ready and ready.get("status") != "True":
        return "running but not ready (its health check does not pass yet)", None
    return None


def workload_problem(workload: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """Why a workload has fewer pods than asked: quota, admission, its own failure conditions."""
    failure = condition(workload, "ReplicaFailure")
    messages = [failure.get("message", "")] if failure and failure.get("status") == "True" else []
    name = meta_of(workload).get("name", "")
    # The pods are created by a ReplicaSet (<deployment>-<hash>), the StatefulSet or the Job itself.
    messages += [e.get("message", "") for e in events
                 if e.get("reason") == "FailedCreate"
                 and (e.get("involvedObject") or {}).get("name", "").startswith(name)]
    for message in reversed(messages):
        if "exceeded quota" in message:
            return f"the project's quota does not allow more: {message}"
    if messages:
        return f"its pods cannot be created: {messages[-1]}"
    progressing = condition(workload, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return f"rollout stalled: {progressing.get('message', '')}"
    failed = condition(workload, "Failed")
    if failed and failed.get("status") == "True":
        return f"failed: {failed.get('message') or failed.get('reason')}"
    return None


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without what changes on every write (resourceVersion, managedFields times) and its status."""
    meta = dict(meta_of(obj))
    meta.pop("resourceVersion", None)
    meta["managedFields"] = [{k: v for k, v in m.items() if k != "time"} for m in meta.get("managedFields") or []]
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def ready_counts(workload: dict[str, Any]) -> tuple[int, int, bool]:
    """(ready, desired, rolled out) of a Deployment, StatefulSet or Job."""
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    kind = workload.get("kind")
    if kind == "Job":
        desired = spec.get("completions") or 1
        done = status.get("succeeded") or 0
        return done, desired, done >= desired
    desired = spec.get("replicas", 1)
    ready = status.get("readyReplicas") or 0
    current = (status.get("observedGeneration") or 0) >= (meta_of(workload).get("generation") or 0)
    updated = status.get("updatedReplicas") or 0
    if kind == "Deployment":
        available = condition(workload, "Available")
        rolled = current and updated >= desired and ready >= desired and (
            desired == 0 or (available or {}).get("status") == "True")
    else:
        rolled = current and ready >= desired and updated >= desired
    return ready, desired, rolled


def service_ports(services: list[dict[str, Any]], service: str) -> list[str]:
    out = []
    for svc in services:
        if (svc.get("spec") or {}).get("selector", {}).get(LABEL_SERVICE) != service:
            continue
        name = meta_of(svc).get("name")
        for port in (svc.get("spec") or {}).get("ports") or []:
            out.append(f"{name}:{port.get('port')}/{port.get('protocol', 'TCP').lower()}")
        try:
            published = json.loads((meta_of(svc).get("annotations") or {}).get(PUBLISHED_ANNOTATION) or "[]")
        except ValueError:
            published = []
        for p in published:
            out.append(f"{p.get('host_ip') or '0.0.0.0'}:{p.get('published')}->{p.get('target')}/{p.get('protocol', 'tcp')}")
    return sorted(out)


__all__ = ["age", "comparable", "condition", "labels_of", "meta_of", "parse_since", "pod_problem",
           "project_selector", "ready_counts", "service_ports", "workload_problem"]
