"""The cluster backend: approved objects go to a Kubernetes API server.

One namespace per project, labelled with the project and its owner. Objects
are written with server-side apply (field manager `spin`), so applying the
same objects again changes nothing (same resourceVersions) and a changed
compose changes only what changed; objects the project no longer has are
pruned by their labels (`app.kubernetes.io/managed-by=spin` plus the project).
Volumes (PVCs) are kept unless `down -v`, as docker compose does.

Every request goes through `KubeApi.request`, the one boundary where the
client's exceptions become KubeApiError with the Kubernetes Status reason and
code; idempotent requests are retried on conflicts, throttling and 5xx, and
every request has a timeout, so nothing hangs.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from interceptor.backends.base import (
    LABEL_FACILITY_PROJECT, LABEL_MANAGED_BY, LABEL_OWNER, LABEL_PROJECT, LABEL_SERVICE, ProjectInfo, ProjectRef,
)
from interceptor.errors import Conflict, KubeApiError, NotFound, UsageError, WaitTimeout
from interceptor.types import Call, CallResult, ServiceStatus

FIELD_MANAGER = "spin"
PUBLISHED_ANNOTATION = "spin.io/published"
#: Kinds a project may hold (those the translator makes); listed to find what to prune and what
#: `down` removes. examples/kubernetes/rbac.yaml grants exactly these: a kind added here needs a rule there.
PROJECT_KINDS: list[tuple[str, str]] = [
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("batch/v1beta1", "CronJob"),
    ("v1", "Service"), ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "PersistentVolumeClaim"),
]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
#: APIs newer than some clusters still in service: which Kubernetes release first serves them.
INTRODUCED_IN = {
    ("batch/v1", "CronJob"): "1.21",
    ("policy/v1", "PodDisruptionBudget"): "1.21",
    ("discovery.k8s.io/v1", "EndpointSlice"): "1.21",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "1.23",
    ("networking.k8s.io/v1", "Ingress"): "1.19",
}
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
IMAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


# -- the one boundary to the client ------------------------------------------------


def _status_of(exc: Exception) -> dict[str, Any]:
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def api_error(exc: Exception, what: str) -> KubeApiError:
    """A client exception as a KubeApiError: the Status message, reason and code, and what to do.

    Only the parsed Status is used: the raw exception also carries request and
    response headers (bearer tokens) and bodies (Secret data), never shown.
    """
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    import urllib3.exceptions as u3

    if isinstance(exc, ApiException) and exc.status:
        status = _status_of(exc)
        code = int(exc.status)
        reason = status.get("reason") or exc.reason or ""
        message = status.get("message") or f"HTTP {code} {exc.reason or ''}".strip()
        causes = (status.get("details") or {}).get("causes") or []
        if code == 422 and causes:
            fields = "; ".join(f"{c.get('field', '?')}: {c.get('message', '')}" for c in causes[:5])
            message = f"{message} ({fields})" if fields not in message else message
        hint = _hint_for(code, message)
        return KubeApiError(f"Kubernetes refused to {what}: {message}", hint, status=code, reason=reason)
    if isinstance(exc, (u3.TimeoutError, TimeoutError)):
        return KubeApiError(f"Kubernetes API did not answer in time ({what})",
                            "The cluster is slow or unreachable; run the command again: it converges.",
                            status=None, reason="Timeout")
    if isinstance(exc, (u3.HTTPError, ConnectionError, OSError)) or (isinstance(exc, ApiException) and not exc.status):
        return KubeApiError(f"cannot reach the Kubernetes API ({what}): {type(exc).__name__}",
                            "Check that the cluster is up and that --kubeconfig/--context point at it.",
                            status=None, reason="Unreachable")
    if isinstance(exc, ConfigException):
        return KubeApiError(f"Kubernetes client configuration is not usable: {exc}",
                            "Pass a working --kubeconfig (and --context), or run the gateway inside the cluster.",
                            status=None, reason="ConfigError")
    return KubeApiError(f"Kubernetes request failed ({what}): {type(exc).__name__}", status=None, reason="Unknown")


def _hint_for(code: int, message: str) -> str:
    if code == 401:
        return "The cluster did not accept the gateway's credentials: check --kubeconfig/--context or the service account token."
    if code == 403 and "being terminated" in message:
        return "The project is still being removed; run the command again in a moment."
    if code == 403 and "exceeded quota" in message:
        return "The project's namespace quota is used up: scale the services down or ask the cluster's administrators for more."
    if code == 403:
        return ("The gateway's service account lacks this permission: grant the verb named above in its ClusterRole "
                "(examples/kubernetes/rbac.yaml, see docs/kubernetes.md).")
    if code == 404:
        return "The object or API does not exist on this cluster."
    if code == 409:
        return "Someone else changed the object at the same time; run the command again: it converges."
    if code == 422:
        return ("The cluster's validation refused the field named above; `spin convert` shows the objects. "
                "If it comes from a valid compose file, report it.")
    if code == 429 or code >= 500:
        return "The Kubernetes API is overloaded or failing; run the command again shortly: it converges."
    return "Run the command again; if it persists, tell the gateway's administrators."


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


class KubeApi:
    """Requests to the API server through the official client's ApiClient, errors mapped, retried, timed out."""

    def __init__(self, api_client: Any, timeout: float = 30, attempts: int = 4):
        self.client = api_client
        self.timeout = timeout
        self.attempts = attempts
        self._discovery: dict[str, dict[str, Resource] | None] = {}
        self._version: str | None = None

    def request(self, method: str, path: str, *, what: str, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json", retry: bool = True,
                timeout: float | None = None, stream: bool = False) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        # The client serialises dicts itself only for JSON content types; apply patches go as text.
        payload = body if content_type == "application/json" or body is None else json.dumps(body)
        attempts = self.attempts if retry else 1
        for attempt in range(attempts):
            try:
                # param_serialize adds the credentials (and refreshes an expiring in-cluster token).
                _, url, headers, _, _ = self.client.param_serialize(
                    method, path, query_params=params,
                    header_params={"Accept": "application/json", "Content-Type": content_type},
                    auth_settings=["BearerToken"])
                resp = self.client.call_api(method, url, header_params=headers, body=payload,
                                            _request_timeout=(5, timeout or self.timeout))
                if not 200 <= resp.status < 300:
                    resp.read()
                    raise ApiException(http_resp=resp)
                if stream:
                    return resp.response
                data = resp.read()
                return json.loads(data) if data else {}
            except ApiException as exc:
                if retry and exc.status in RETRY_STATUSES and attempt + 1 < attempts:
                    time.sleep(0.25 * 2 ** attempt)
                    continue
                raise api_error(exc, what) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:  # the client does not wrap transport errors
                if retry and attempt + 1 < attempts:
                    time.sleep(0.25 * 2 ** attempt)
                    continue
                raise api_error(exc, what) from None
        raise AssertionError("unreachable")

    def get(self, path: str, what: str, **query: Any) -> dict[str, Any] | None:
        """GET, with 404 as None."""
        try:
            return self.request("GET", path, what=what, query=query)
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def server_version(self) -> str:
        if self._version is None:
            info = self.request("GET", "/version", what="read the server version")
            self._version = info.get("gitVersion") or f"v{info.get('major')}.{info.get('minor')}"
        return self._version

    def resource(self, api_version: str, kind: str) -> Resource | None:
        """What the server calls this kind (discovery, cached), or None if it does not serve it."""
        if api_version not in self._discovery:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self.get(path, f"discover {api_version}")
            self._discovery[api_version] = None if listing is None else {
                r["kind"]: Resource(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                for r in listing.get("resources", []) if "/" not in r["name"]
            }
        served = self._discovery[api_version]
        return served.get(kind) if served else None

    def require(self, api_version: str, kind: str) -> Resource:
        found = self.resource(api_version, kind)
        if found is not None:
            return found
        version = self.server_version()
        since = INTRODUCED_IN.get((api_version, kind))
        extra = f" ({api_version} {kind} needs Kubernetes {since} or newer)" if since else ""
        raise KubeApiError(
            f"this cluster (Kubernetes {version}) does not serve {kind} in {api_version}{extra}; nothing was changed",
            "Remove the compose feature that needs it, or ask the cluster's administrators about an upgrade.",
            status=None, reason="Unsupported")


def _client_from(kubeconfig: str | None, context: str | None) -> Any:
    """An ApiClient from a kubeconfig (file, context) or, inside a pod, the service account."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        if kubeconfig is not None and not os.path.isfile(kubeconfig):
            raise UsageError(f"--kubeconfig {kubeconfig}: no such file",
                             hint="Pass the path of a kubeconfig file (as for kubectl).")
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except ConfigException as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise UsageError(f"cannot use Kubernetes configuration {where}"
                         f"{f' (context {context})' if context else ''}: {exc}",
                         hint="Pass --kubeconfig FILE and --context NAME, or run the gateway inside the cluster.") from None


# -- plain functions over objects ----------------------------------------------------


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return _meta(obj).get("labels") or {}


def project_selector(ref: ProjectRef) -> str:
    return f"{LABEL_MANAGED_BY}=spin,{LABEL_PROJECT}={ref.project}"


def _age(obj: dict[str, Any]) -> float | None:
    stamp = _meta(obj).get("creationTimestamp")
    if not stamp:
        return None
    created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return round((datetime.now(timezone.utc) - created).total_seconds(), 1)


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
        stamp = stamp.replace(tzinfo=timezone.utc)
    return {"sinceTime": stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def pod_problem(pod: dict[str, Any]) -> tuple[str, str | None] | None:
    """Why a pod is not ready, in a researcher's words, and the container whose last logs explain it."""
    status = pod.get("status") or {}
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
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
    ready = _condition(pod, "Ready")
    if ready and ready.get("status") != "True":
        return "running but not ready (its health check does not pass yet)", None
    return None


def workload_problem(workload: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """Why a workload has fewer pods than asked: quota, admission, its own failure conditions."""
    failure = _condition(workload, "ReplicaFailure")
    messages = [failure.get("message", "")] if failure and failure.get("status") == "True" else []
    name = _meta(workload).get("name", "")
    # The pods are created by a ReplicaSet (<deployment>-<hash>), the StatefulSet or the Job itself.
    messages += [e.get("message", "") for e in events
                 if e.get("reason") == "FailedCreate"
                 and (e.get("involvedObject") or {}).get("name", "").startswith(name)]
    for message in reversed(messages):
        if "exceeded quota" in message:
            return f"the project's quota does not allow more: {message}"
    if messages:
        return f"its pods cannot be created: {messages[-1]}"
    progressing = _condition(workload, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return f"rollout stalled: {progressing.get('message', '')}"
    failed = _condition(workload, "Failed")
    if failed and failed.get("status") == "True":
        return f"failed: {failed.get('message') or failed.get('reason')}"
    return None


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without what changes on every write (resourceVersion, managedFields times)."""
    meta = dict(_meta(obj))
    meta.pop("resourceVersion", None)
    meta["managedFields"] = [{k: v for k, v in m.items() if k != "time"} for m in meta.get("managedFields") or []]
    return {**obj, "metadata": meta}


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
    current = (status.get("observedGeneration") or 0) >= (_meta(workload).get("generation") or 0)
    updated = status.get("updatedReplicas") or 0
    if kind == "Deployment":
        available = _condition(workload, "Available")
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
        name = _meta(svc).get("name")
        for port in (svc.get("spec") or {}).get("ports") or []:
            out.append(f"{name}:{port.get('port')}/{port.get('protocol', 'TCP').lower()}")
        try:
            published = json.loads((_meta(svc).get("annotations") or {}).get(PUBLISHED_ANNOTATION) or "[]")
        except ValueError:
            published = []
        for p in published:
            out.append(f"{p.get('host_ip') or '0.0.0.0'}:{p.get('published')}->{p.get('target')}/{p.get('protocol', 'tcp')}")
    return sorted(out)


# -- the backend ---------------------------------------------------------------------


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, *, api_client: Any = None,
                 timeout: float = 30, delete_timeout: float = 120, poll: float = 1.0):
        self.api = KubeApi(api_client or _client_from(kubeconfig, context), timeout=timeout)
        self.delete_timeout = delete_timeout
        self.poll = poll

    # -- reading -------------------------------------------------------------

    def _namespace(self, ref: ProjectRef) -> dict[str, Any] | None:
        return self.api.get(f"/api/v1/namespaces/{ref.namespace}", f"read namespace {ref.namespace}")

    def _owned_namespace(self, ref: ProjectRef) -> dict[str, Any] | None:
        """The project's namespace, or None; a namespace spin did not make is never taken over."""
        ns = self._namespace(ref)
        if ns is None:
            return None
        labels = _labels_of(ns)
        if labels.get(LABEL_MANAGED_BY) != "spin" or labels.get(LABEL_PROJECT, ref.project) != ref.project:
            raise Conflict(f"namespace {ref.namespace!r} already exists in the cluster and does not belong to "
                           f"spin project {ref.project!r}",
                           hint="Choose another project name with -p/--project-name.")
        return ns

    def _list(self, api_version: str, kind: str, ref: ProjectRef | None, selector: str) -> list[dict[str, Any]]:
        resource = self.api.resource(api_version, kind)
        if resource is None:
            return []
        path = resource.path(ref.namespace if ref else None)
        items = self.api.request("GET", path, what=f"list {resource.plural}", query={"labelSelector": selector})
        for item in items.get("items", []):
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items.get("items", [])

    def _project_objects(self, ref: ProjectRef) -> dict[tuple[str, str], dict[str, Any]]:
        """The project's own objects (not the pods and ReplicaSets its controllers made), by (kind, name)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for api_version, kind in PROJECT_KINDS:
            for item in self._list(api_version, kind, ref, project_selector(ref)):
                if _meta(item).get("ownerReferences"):
                    continue  # made by a controller from one of ours: its owner is what we manage
                found[(kind, _meta(item)["name"])] = item
        return found

    def existing(self, ref: ProjectRef) -> ProjectInfo | None:
        ns = self._owned_namespace(ref)
        if ns is None:
            return None
        labels = _labels_of(ns)
        services = sorted({_labels_of(w).get(LABEL_SERVICE, _meta(w)["name"]) for w in self._workloads(ref)})
        return ProjectInfo(ref.project, ref.namespace, labels.get(LABEL_OWNER, ""),
                           labels.get(LABEL_FACILITY_PROJECT, ""), services)

    def existing_objects(self, ref: ProjectRef) -> set[tuple[str, str]]:
        if self._owned_namespace(ref) is None:
            return set()
        return {("Namespace", ref.namespace), *self._project_objects(ref)}

    def list_projects(self) -> list[ProjectInfo]:
        namespaces = self.api.request("GET", "/api/v1/namespaces", what="list namespaces",
                                      query={"labelSelector": f"{LABEL_MANAGED_BY}=spin"}).get("items", [])
        services: dict[str, set[str]] = {}
        for kind in WORKLOAD_KINDS:
            api_version = "batch/v1" if kind == "Job" else "apps/v1"
            for item in self._list(api_version, kind, None, f"{LABEL_MANAGED_BY}=spin"):
                if not _meta(item).get("ownerReferences"):
                    services.setdefault(_meta(item).get("namespace", ""), set()).add(
                        _labels_of(item).get(LABEL_SERVICE, _meta(item)["name"]))
        out = []
        for ns in namespaces:
            labels, name = _labels_of(ns), _meta(ns)["name"]
            out.append(ProjectInfo(labels.get(LABEL_PROJECT, name), name, labels.get(LABEL_OWNER, ""),
                                   labels.get(LABEL_FACILITY_PROJECT, ""), sorted(services.get(name, set()))))
        return sorted(out, key=lambda p: p.project)

    # -- changing ------------------------------------------------------------

    def _resolve(self, ref: ProjectRef, calls: list[Call]) -> list[tuple[Call, Resource, dict[str, Any]]]:
        """Every object checked before any is written: served by this cluster, inside the project's namespace."""
        out = []
        for call in calls:
            obj = json.loads(json.dumps(call.object))  # a copy; the approved call stays as audited
            resource = self.api.require(obj.get("apiVersion", ""), obj.get("kind", ""))
            meta = obj.setdefault("metadata", {})
            if resource.kind == "Namespace":
                if meta.get("name") != ref.namespace:
                    raise KubeApiError(f"the plan names namespace {meta.get('name')!r}, not the project's "
                                       f"{ref.namespace!r}; nothing was changed", status=None, reason="Invalid")
            elif not resource.namespaced:
                raise KubeApiError(f"{resource.kind} is a cluster-wide object; a project may only hold objects "
                                   "in its own namespace; nothing was changed", status=None, reason="Invalid")
            elif meta.setdefault("namespace", ref.namespace) != ref.namespace:
                raise KubeApiError(f"{resource.kind}/{meta.get('name')} is in namespace {meta['namespace']!r}, not the "
                                   f"project's {ref.namespace!r}; nothing was changed", status=None, reason="Invalid")
            # The labels prune and down find the project by.
            labels = meta.setdefault("labels", {})
            labels.setdefault(LABEL_MANAGED_BY, "spin")
            labels.setdefault(LABEL_PROJECT, ref.project)
            for key, value in ((LABEL_OWNER, ref.owner), (LABEL_FACILITY_PROJECT, ref.facility_project)):
                if value:
                    labels.setdefault(key, value)
            out.append((call, resource, obj))
        return out

    def _apply_one(self, resource: Resource, obj: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """Server-side apply; an object the apply would not change is not written at all.

        Kubernetes 1.20 stores some no-op applies anyway (a PersistentVolumeClaim
        gets a new resourceVersion every time), so an existing object is first
        applied with dryRun=All and only written if that result differs from it.
        """
        meta = obj["metadata"]
        path = resource.path(meta.get("namespace"), meta["name"])
        what = f"apply {resource.kind}/{meta['name']}"
        # force: `spin up` is the source of truth for the project's objects; a field someone
        # changed by hand (kubectl edit) is taken back, as a second `docker compose up` would.
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if current is not None:
            preview = self.api.request("PATCH", path, what=what, body=obj, content_type="application/apply-patch+yaml",
                                       query={**query, "dryRun": "All"})
            if _comparable(preview) == _comparable(current):
                return current
        return self.api.request("PATCH", path, what=what, body=obj, content_type="application/apply-patch+yaml",
                                query=query)

    def _wait_namespace_not_terminating(self, ref: ProjectRef) -> None:
        deadline = time.monotonic() + self.delete_timeout
        while True:
            ns = self._owned_namespace(ref)
            if ns is None or not _meta(ns).get("deletionTimestamp"):
                return
            if time.monotonic() >= deadline:
                raise KubeApiError(f"project {ref.project} is still being removed (namespace {ref.namespace} "
                                   f"terminating after {self.delete_timeout:g}s); nothing was changed",
                                   "Run the command again once `spin ps` no longer lists the project.",
                                   status=409, reason="Terminating")
            time.sleep(self.poll)

    def apply(self, ref: ProjectRef, calls: list[Call]) -> list[CallResult]:
        resolved = self._resolve(ref, calls)
        self._wait_namespace_not_terminating(ref)
        ns_before = self._namespace(ref)
        before = self._project_objects(ref) if ns_before is not None else {}
        results: list[CallResult] = []
        wanted: set[tuple[str, str]] = set()
        for call, resource, obj in resolved:
            key = (resource.kind, obj["metadata"]["name"])
            wanted.add(key)
            old = ns_before if resource.kind == "Namespace" else before.get(key)
            new = self._apply_one(resource, obj, old)
            if old is None:
                action = "created"
            elif _meta(old).get("resourceVersion") == _meta(new).get("resourceVersion"):
                action = "unchanged"
            else:
                action = "configured"
            results.append(CallResult(call_id=call.id, kind=resource.kind, name=key[1], action=action))
        for (kind, name), obj in before.items():
            if (kind, name) in wanted:
                continue
            if kind == "PersistentVolumeClaim":
                results.append(CallResult(call_id="prune", kind=kind, name=name, action="skipped",
                                          message="volume no longer in the compose file, kept with its data; "
                                                  "`spin down -v` removes it"))
                continue
            self._delete_object(obj)
            results.append(CallResult(call_id="prune", kind=kind, name=name, action="deleted",
                                      message="no longer in the project"))
        return results

    def _delete_object(self, obj: dict[str, Any]) -> bool:
        """Delete with foreground propagation (dependents first); False if it was already gone."""
        resource = self.api.require(obj["apiVersion"], obj["kind"])
        meta = _meta(obj)
        try:
            self.api.request("DELETE", resource.path(meta.get("namespace"), meta["name"]),
                             what=f"delete {obj['kind']}/{meta['name']}",
                             body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground"})
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete(self, ref: ProjectRef, calls: list[Call], volumes: bool) -> list[CallResult]:
        approved = {(c.kind, c.name): c.id for c in calls}
        ns = self._owned_namespace(ref)
        if ns is None:
            return [CallResult(call_id=c.id, kind=c.kind, name=c.name, action="absent") for c in calls]
        objects = self._project_objects(ref)
        results, gone_wanted = [], []
        kept = [key for key in objects if key[0] == "PersistentVolumeClaim" and not volumes]
        # Made since the plan was decided: not approved for deletion, so it stays (and so does the namespace).
        unapproved = [key for key in objects if key not in approved]
        for key, obj in objects.items():
            call_id = approved.get(key)
            if call_id is None:
                results.append(CallResult(call_id="down", kind=key[0], name=key[1], action="skipped",
                                          message="not in the approved plan"))
                continue
            if key in kept:
                results.append(CallResult(call_id=call_id, kind=key[0], name=key[1], action="skipped",
                                          message="volume kept; `spin down -v` removes it"))
                continue
            action = "deleted" if self._delete_object(obj) else "absent"
            results.append(CallResult(call_id=call_id, kind=key[0], name=key[1], action=action))
            gone_wanted.append(obj)
        # The namespace goes too once nothing is kept in it (and always with -v).
        ns_call = approved.get(("Namespace", ref.namespace))
        if ns_call and not kept and not unapproved:
            self._delete_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ref.namespace}})
            results.append(CallResult(call_id=ns_call, kind="Namespace", name=ref.namespace, action="deleted"))
            gone_wanted.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ref.namespace}})
        self._wait_gone(ref, gone_wanted)
        return results

    def _wait_gone(self, ref: ProjectRef, objects: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + self.delete_timeout
        pending = list(objects)
        while pending:
            still = []
            for obj in pending:
                resource = self.api.require(obj["apiVersion"], obj["kind"])
                meta = _meta(obj)
                current = self.api.get(resource.path(meta.get("namespace"), meta["name"]),
                                       f"read {obj['kind']}/{meta['name']}")
                if current is not None:
                    still.append(current | {"kind": obj["kind"], "apiVersion": obj["apiVersion"]})
            pending = still
            if not pending:
                return
            if time.monotonic() >= deadline:
                names = ", ".join(f"{o['kind']}/{_meta(o)['name']}"
                                  f"{' (waiting for ' + ', '.join(_meta(o).get('finalizers')) + ')' if _meta(o).get('finalizers') else ''}"
                                  for o in pending)
                raise KubeApiError(f"project {ref.project}: still being deleted after {self.delete_timeout:g}s: {names}",
                                   "The cluster is still removing them; run `spin down` again to wait longer.",
                                   status=None, reason="Timeout")
            time.sleep(self.poll)

    # -- observing -----------------------------------------------------------

    def _workloads(self, ref: ProjectRef) -> list[dict[str, Any]]:
        out = []
        for kind in WORKLOAD_KINDS:
            api_version = "batch/v1" if kind == "Job" else "apps/v1"
            out += [w for w in self._list(api_version, kind, ref, project_selector(ref))
                    if not _meta(w).get("ownerReferences")]
        return out

    def _pods(self, ref: ProjectRef, service: str | None = None) -> list[dict[str, Any]]:
        selector = project_selector(ref) + (f",{LABEL_SERVICE}={service}" if service else "")
        return self._list("v1", "Pod", ref, selector)

    def _events(self, ref: ProjectRef) -> list[dict[str, Any]]:
        items = self.api.request("GET", f"/api/v1/namespaces/{ref.namespace}/events", what="list events",
                                 query={"fieldSelector": "type=Warning"}).get("items", [])
        return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")

    def _statuses(self, ref: ProjectRef, explain: bool) -> tuple[list[ServiceStatus], bool]:
        workloads = self._workloads(ref)
        if not workloads:
            return [], True
        pods = self._pods(ref)
        services = self._list("v1", "Service", ref, project_selector(ref))
        events: list[dict[str, Any]] | None = None
        out, all_ready = [], True
        for w in sorted(workloads, key=lambda w: _labels_of(w).get(LABEL_SERVICE, _meta(w)["name"])):
            service = _labels_of(w).get(LABEL_SERVICE, _meta(w)["name"])
            mine = [p for p in pods if _labels_of(p).get(LABEL_SERVICE) == service]
            ready, desired, rolled = ready_counts(w)
            restarts = sum(cs.get("restartCount", 0) for p in mine
                           for cs in (p.get("status") or {}).get("containerStatuses") or [])
            message = ""
            if w["kind"] == "Job":
                state = "completed" if rolled else ("failed" if _condition(w, "Failed") else "running")
            elif rolled:
                state = "running" if desired else "stopped"
            else:
                state = "starting"
            if not rolled:
                all_ready = False
                if explain:
                    if events is None:
                        events = self._events(ref)
                    message = self._why(ref, w, mine, events)
                    state = "waiting" if message else state
            out.append(ServiceStatus(service=service, kind=w["kind"], ready=ready, desired=desired, state=state,
                                     ports=service_ports(services, service), restarts=restarts,
                                     age_seconds=_age(w), message=message))
        return out, all_ready

    def _why(self, ref: ProjectRef, workload: dict[str, Any], pods: list[dict[str, Any]],
             events: list[dict[str, Any]]) -> str:
        reasons = []
        problem = workload_problem(workload, events)
        if problem:
            reasons.append(problem)
        for pod in pods:
            found = pod_problem(pod)
            if found is None:
                continue
            text, container = found
            if container:
                lines = self._last_lines(ref, pod, container)
                if lines:
                    text += f"; last log lines: {' | '.join(lines)}"
            if text not in reasons:
                reasons.append(text)
        if not reasons and not pods:
            reasons.append("no pods created yet")
        return "; ".join(reasons)

    def _last_lines(self, ref: ProjectRef, pod: dict[str, Any], container: str, count: int = 5) -> list[str]:
        for previous in (True, False):
            try:
                text = self.api.request("GET", f"/api/v1/namespaces/{ref.namespace}/pods/{_meta(pod)['name']}/log",
                                        what="read logs", query={"container": container, "tailLines": count,
                                                                 "previous": previous},
                                        retry=False, timeout=10, stream=True).data.decode("utf-8", "replace")
            except KubeApiError:
                continue
            lines = [line for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-count:]
        return []

    def status(self, ref: ProjectRef) -> list[ServiceStatus]:
        return self._statuses(ref, explain=True)[0]

    def wait(self, ref: ProjectRef, timeout: float) -> list[ServiceStatus]:
        deadline = time.monotonic() + timeout
        while True:
            statuses, ready = self._statuses(ref, explain=False)
            if ready:
                return statuses
            if time.monotonic() >= deadline:
                statuses, ready = self._statuses(ref, explain=True)
                if ready:
                    return statuses
                waiting = [s for s in statuses if s.state not in {"running", "completed", "stopped"}]
                reasons = "; ".join(f"{s.service} ({s.ready}/{s.desired} ready): {s.message or s.state}"
                                    for s in waiting)
                raise WaitTimeout(f"not ready after {timeout:g}s: {reasons}",
                                  data=[s.model_dump() for s in statuses])
            time.sleep(min(self.poll, max(0.05, deadline - time.monotonic())))

    def logs(self, ref: ProjectRef, service: str | None, tail: int | None, since: str | None,
             follow: bool = False) -> Iterator[str]:
        query_base = {"tailLines": tail, **parse_since(since)}
        pods = sorted(self._pods(ref, service), key=lambda p: (_labels_of(p).get(LABEL_SERVICE, ""), _meta(p)["name"]))
        if service and not pods and service not in {_labels_of(w).get(LABEL_SERVICE) for w in self._workloads(ref)}:
            raise NotFound(f"project {ref.project} has no service {service!r}", hint="`spin ps` lists its services.")
        if not pods:
            yield f"{service or ref.project} | no logs: no pods are running"
            return
        streams = []
        for pod in pods:
            svc = _labels_of(pod).get(LABEL_SERVICE, _meta(pod)["name"])
            if not (pod.get("spec") or {}).get("nodeName"):
                why = (pod_problem(pod) or ("not started",))[0]
                yield f"{svc} | no logs: pod {_meta(pod)['name']} has not started on any node ({why})"
                continue
            for container in (pod.get("spec") or {}).get("containers") or []:
                streams.append((svc, pod, container["name"]))
        if follow and len(streams) > 1:
            yield from self._follow_many(ref, streams, query_base)
            return
        for svc, pod, container in streams:
            yield from self._log_lines(ref, svc, pod, container, {**query_base, "follow": follow or None})

    def _log_lines(self, ref: ProjectRef, svc: str, pod: dict[str, Any], container: str,
                   query: dict[str, Any]) -> Iterator[str]:
        name = _meta(pod)["name"]
        prefix = f"{svc} | " if len((pod.get("spec") or {}).get("containers") or []) == 1 else f"{svc}/{container} | "
        try:
            resp = self.api.request("GET", f"/api/v1/namespaces/{ref.namespace}/pods/{name}/log", what="read logs",
                                    query={"container": container, **query}, retry=False, stream=True,
                                    timeout=None if query.get("follow") else 30)
        except KubeApiError as exc:
            # No kubelet (or an unreachable one) answers for this node: say so instead of failing the rest.
            yield f"{prefix}no logs: the node {pod['spec']['nodeName']} did not give them ({exc.message})"
            return
        try:
            buffer = b""
            for chunk in resp.stream(4096):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield prefix + line.decode("utf-8", "replace")
            if buffer:
                yield prefix + buffer.decode("utf-8", "replace")
        finally:
            resp.release_conn()

    def _follow_many(self, ref: ProjectRef, streams: list[tuple[str, dict[str, Any], str]],
                     query: dict[str, Any]) -> Iterator[str]:
        """Several followed streams interleaved as lines arrive, one reader thread each."""
        lines: queue.Queue[str | None] = queue.Queue(maxsize=1000)

        def pump(svc: str, pod: dict[str, Any], container: str) -> None:
            try:
                for line in self._log_lines(ref, svc, pod, container, {**query, "follow": True}):
                    lines.put(line)
            finally:
                lines.put(None)

        for args in streams:
            threading.Thread(target=pump, args=args, daemon=True).start()
        open_streams = len(streams)
        while open_streams:
            line = lines.get()
            if line is None:
                open_streams -= 1
            else:
                yield line


__all__ = ["KubeApi", "KubernetesBackend", "api_error", "parse_since", "pod_problem", "workload_problem"]
