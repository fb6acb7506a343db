"""The cluster backend: approved objects go to a Kubernetes API server.

One namespace per project, labelled with the project and its owner. Objects
are written with server-side apply (field manager `spin`), so applying the
same objects again changes nothing (same resourceVersions) and a changed
compose changes only what changed; objects the project no longer has are
pruned by their labels (`app.kubernetes.io/managed-by=spin` plus the project).
Volumes (PVCs) are kept unless `down -v`, as docker compose does.

Requests go through kube_api.KubeApi (errors mapped, retried, timed out);
reading health and reasons is kube_status's plain functions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from spin_gateway.backends.base import MAX_EXEC_OUTPUT, ProjectInfo, ProjectRef
from spin_gateway.backends.drift import runtime_drift, security_drift
from spin_gateway.backends.kube_api import KubeApi, Resource, api_error, client_from
from spin_gateway.backends.kube_status import (
    age,
    comparable,
    condition,
    labels_of,
    meta_of,
    parse_since,
    pod_problem,
    project_selector,
    ready_counts,
    service_ports,
    workload_problem,
)
from spin_gateway.vocabulary.errors import Conflict, KubeApiError, NotFound, UsageError, WaitTimeout, WorkloadFailed
from spin_gateway.vocabulary.labels import (
    LABEL_FACILITY_PROJECT,
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    LABEL_PROJECT,
    LABEL_SERVICE,
)
from spin_gateway.vocabulary.types import Action, Call, CallResult, ExecResult, ServiceStatus

FIELD_MANAGER = "spin"
#: Kinds a project may hold (those the translator makes); listed to find what to prune and what
#: `down` removes. examples/kubernetes/rbac.yaml grants exactly these: a kind added here needs a rule there.
PROJECT_KINDS: list[tuple[str, str]] = [
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("batch/v1beta1", "CronJob"),
    ("v1", "Service"), ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "PersistentVolumeClaim"),
]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def _waiting_for(obj: dict[str, Any]) -> str:
    finalizers = meta_of(obj).get("finalizers") or []
    return f" (waiting for {', '.join(finalizers)})" if finalizers else ""


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, *, api_client: Any = None,
                 timeout: float = 30, delete_timeout: float = 120, poll: float = 1.0, settle: float = 2.0):
        self.api = KubeApi(api_client or client_from(kubeconfig, context), timeout=timeout)
        self.delete_timeout = delete_timeout
        self.poll = poll
        self.settle = settle

    # -- reading -------------------------------------------------------------

    def _namespace(self, ref: ProjectRef) -> dict[str, Any] | None:
        return self.api.get(f"/api/v1/namespaces/{ref.namespace}", f"read namespace {ref.namespace}")

    def _owned_namespace(self, ref: ProjectRef) -> dict[str, Any] | None:
        """The project's namespace, or None; a namespace spin did not make is never taken over."""
        ns = self._namespace(ref)
        if ns is None:
            return None
        labels = labels_of(ns)
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
                if meta_of(item).get("ownerReferences"):
                    continue  # made by a controller from one of ours: its owner is what we manage
                found[(kind, meta_of(item)["name"])] = item
        return found

    def existing(self, ref: ProjectRef) -> ProjectInfo | None:
        ns = self._owned_namespace(ref)
        if ns is None:
            return None
        labels = labels_of(ns)
        services = sorted({labels_of(w).get(LABEL_SERVICE, meta_of(w)["name"]) for w in self._workloads(ref)})
        return ProjectInfo(ref.project, ref.namespace, labels.get(LABEL_OWNER, ""),
                           labels.get(LABEL_FACILITY_PROJECT, ""), services)

    def project_of_namespace(self, namespace: str) -> ProjectInfo | None:
        """The spin project a namespace holds, from its labels alone (one read; the admission webhook asks
        on every call); None for a namespace that does not exist or that spin did not make."""
        ns = self._namespace(ProjectRef(namespace, namespace))
        labels = labels_of(ns) if ns is not None else {}
        if labels.get(LABEL_MANAGED_BY) != "spin" or not labels.get(LABEL_PROJECT):
            return None
        return ProjectInfo(labels[LABEL_PROJECT], namespace, labels.get(LABEL_OWNER, ""),
                           labels.get(LABEL_FACILITY_PROJECT, ""))

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
                if not meta_of(item).get("ownerReferences"):
                    services.setdefault(meta_of(item).get("namespace", ""), set()).add(
                        labels_of(item).get(LABEL_SERVICE, meta_of(item)["name"]))
        out = []
        for ns in namespaces:
            labels, name = labels_of(ns), meta_of(ns)["name"]
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

    def _apply_one(self, resource: Resource, obj: dict[str, Any],
                   current: dict[str, Any] | None) -> tuple[dict[str, Any], Action]:
        """Server-side apply; an object the apply would not change is not written at all.

        Kubernetes 1.20 stores some no-op applies anyway (a PersistentVolumeClaim
        gets a new resourceVersion every time), so an existing object is first
        applied with dryRun=All and only written if that result differs from it.
        Controllers write status and their own annotations meanwhile, so status
        is left out of the comparison and a difference is checked once more
        against a fresh read before writing.
        """
        meta = obj["metadata"]
        path = resource.path(meta.get("namespace"), meta["name"])
        what = f"apply {resource.kind}/{meta['name']}"
        # force: `spin up` is the source of truth for the project's objects; a field someone
        # changed by hand (kubectl edit) is taken back, as a second `docker compose up` would.
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}

        def write() -> dict[str, Any]:
            return self.api.request("PATCH", path, what=what, body=obj, content_type="application/apply-patch+yaml",
                                    query=query)

        if current is None:
            return write(), "created"
        try:
            preview = comparable(self.api.request("PATCH", path, what=what, body=obj,
                                                  content_type="application/apply-patch+yaml",
                                                  query={**query, "dryRun": "All"}))
            if preview == comparable(current):
                return current, "unchanged"
            fresh = self.api.get(path, f"read {resource.kind}/{meta['name']}")
            if fresh is None:
                return write(), "created"
            if preview == comparable(fresh):
                return fresh, "unchanged"
            new = write()
        except KubeApiError as exc:
            if not (exc.status == 422 and resource.kind == "Job" and "field is immutable" in exc.message):
                raise
            # A Job's pod template cannot change: the changed one-shot service is a new run,
            # as `docker compose up` recreates a changed container.
            self._delete_object(current)
            self._wait_gone(f"namespace {meta.get('namespace')}", [current])
            return write(), "configured"
        same = meta_of(new).get("resourceVersion") == meta_of(fresh).get("resourceVersion")
        return new, "unchanged" if same else "configured"

    def _wait_namespace_not_terminating(self, ref: ProjectRef) -> None:
        deadline = time.monotonic() + self.delete_timeout
        while True:
            ns = self._owned_namespace(ref)
            if ns is None or not meta_of(ns).get("deletionTimestamp"):
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
            _, action = self._apply_one(resource, obj, old)
            results.append(CallResult(call_id=call.id, kind=resource.kind, name=key[1], action=action))
        for (kind, name), obj in before.items():
            if (kind, name) in wanted or labels_of(obj).get(LABEL_SERVICE) in ref.keep_services:
                continue  # wanted, or an orphaned service's object the up keeps (the gateway's notice says so)
            if kind == "PersistentVolumeClaim":
                results.append(CallResult(call_id="prune", kind=kind, name=name, action="skipped",
                                          message="volume no longer in the compose file, kept with its data; "
                                                  "`spin down -v` removes it"))
                continue
            self._delete_object(obj)
            results.append(CallResult(call_id="prune", kind=kind, name=name, action="deleted",
                                      message="no longer in the project"))
        if ref.recreate:
            results += self._recreate_pods(ref, [obj for _, resource, obj in resolved if resource.kind in WORKLOAD_KINDS])
        return results

    def lifecycle(self, ref: ProjectRef, action: str, services: list[str]) -> list[CallResult]:
        """restart: the pods are deleted and their controllers make new ones from the decided template.
        stop/start would change the decided objects (replicas), which only a decided `up` may do."""
        if action != "restart":
            raise UsageError(f"`spin {action}` is not available on Kubernetes: a stopped service there is a "
                             "Deployment with 0 replicas, a change only a decided `spin up` may make",
                             hint=f"`spin scale SERVICE=0` {'stops' if action == 'stop' else 'and then `spin up` starts'}"
                                  " it through the policy; `spin restart` restarts it.")
        workloads = [w for w in self._workloads(ref)
                     if not services or labels_of(w).get(LABEL_SERVICE) in services]
        missing = sorted(set(services) - {labels_of(w).get(LABEL_SERVICE) for w in workloads})
        if missing:
            raise NotFound(f"project {ref.project} has no service {', '.join(map(repr, missing))}",
                           hint="`spin ps` lists its services.")
        return self._recreate_pods(ref, workloads)

    def exec(self, ref: ProjectRef, service: str, command: list[str], timeout: float) -> ExecResult:
        """The command in the service's first running pod, through the API server's exec (no terminal)."""
        pods = sorted((p for p in self._pods(ref, service) if (p.get("status") or {}).get("phase") == "Running"),
                      key=lambda p: meta_of(p)["name"])
        if not pods:
            raise WorkloadFailed(f"service {service} has no running pod, so nothing can run in it",
                                 hint="`spin ps` shows its state; `spin up` starts it.")
        pod = pods[0]
        container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", "")
        from kubernetes import client as k8s
        from kubernetes.stream import stream

        try:
            resp = stream(k8s.CoreV1Api(self.api.client).connect_get_namespaced_pod_exec, meta_of(pod)["name"],
                          ref.namespace, container=container, command=command, stderr=True, stdin=False,
                          stdout=True, tty=False, _preload_content=False)
            output, deadline = "", time.monotonic() + timeout
            while resp.is_open() and time.monotonic() < deadline and len(output) < MAX_EXEC_OUTPUT:
                resp.update(timeout=1)
                output += resp.read_stdout() if resp.peek_stdout() else ""
                output += resp.read_stderr() if resp.peek_stderr() else ""
            resp.close()
            code = resp.returncode if resp.returncode is not None else 124  # still running at the deadline
        except Exception as exc:  # the client's own errors, wrapped as everywhere else (never its headers)
            raise api_error(exc, f"exec in {service}") from None
        return ExecResult(service=service, exit_code=int(code), output=output[-MAX_EXEC_OUTPUT:])

    def _recreate_pods(self, ref: ProjectRef, workloads: list[dict[str, Any]]) -> list[CallResult]:
        """`up --force-recreate`: delete the workloads' pods; their controllers make new ones from the same
        decided template (nothing undecided runs). A finished Job's pods stay: it is not run again."""
        results = []
        for workload in workloads:
            if workload["kind"] == "Job":
                continue
            service = labels_of(workload).get(LABEL_SERVICE, meta_of(workload)["name"])
            for pod in self._pods(ref, service):
                self._delete_object({**pod, "apiVersion": "v1", "kind": "Pod"})
                results.append(CallResult(call_id="recreate", kind="Pod", name=meta_of(pod)["name"],
                                          action="deleted", message="recreated by its controller (--force-recreate)"))
        return results

    def _delete_object(self, obj: dict[str, Any]) -> bool:
        """Delete with foreground propagation (dependents first); False if it was already gone."""
        resource = self.api.require(obj["apiVersion"], obj["kind"])
        meta = meta_of(obj)
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
            action: Action = "deleted" if self._delete_object(obj) else "absent"
            results.append(CallResult(call_id=call_id, kind=key[0], name=key[1], action=action))
            gone_wanted.append(obj)
        # The namespace goes too once nothing is kept in it (and always with -v).
        ns_call = approved.get(("Namespace", ref.namespace))
        if ns_call and not kept and not unapproved:
            self._delete_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ref.namespace}})
            results.append(CallResult(call_id=ns_call, kind="Namespace", name=ref.namespace, action="deleted"))
            gone_wanted.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ref.namespace}})
        self._wait_gone(f"project {ref.project}", gone_wanted)
        return results

    def _wait_gone(self, where: str, objects: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + self.delete_timeout
        pending = list(objects)
        while pending:
            still = []
            for obj in pending:
                resource = self.api.require(obj["apiVersion"], obj["kind"])
                meta = meta_of(obj)
                current = self.api.get(resource.path(meta.get("namespace"), meta["name"]),
                                       f"read {obj['kind']}/{meta['name']}")
                if current is not None:
                    still.append(current | {"kind": obj["kind"], "apiVersion": obj["apiVersion"]})
            pending = still
            if not pending:
                return
            if time.monotonic() >= deadline:
                names = ", ".join(f"{o['kind']}/{meta_of(o)['name']}{_waiting_for(o)}" for o in pending)
                raise KubeApiError(f"{where}: still being deleted after {self.delete_timeout:g}s: {names}",
                                   "The cluster is still removing them; run `spin down` again to wait longer.",
                                   status=None, reason="Timeout")
            time.sleep(self.poll)

    # -- observing -----------------------------------------------------------

    def _workloads(self, ref: ProjectRef) -> list[dict[str, Any]]:
        out = []
        for kind in WORKLOAD_KINDS:
            api_version = "batch/v1" if kind == "Job" else "apps/v1"
            out += [w for w in self._list(api_version, kind, ref, project_selector(ref))
                    if not meta_of(w).get("ownerReferences")]
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
        for w in sorted(workloads, key=lambda w: labels_of(w).get(LABEL_SERVICE, meta_of(w)["name"])):
            service = labels_of(w).get(LABEL_SERVICE, meta_of(w)["name"])
            mine = [p for p in pods if labels_of(p).get(LABEL_SERVICE) == service]
            ready, desired, rolled = ready_counts(w)
            restarts = sum(cs.get("restartCount", 0) for p in mine
                           for cs in (p.get("status") or {}).get("containerStatuses") or [])
            message = ""
            if w["kind"] == "Job":
                state = "completed" if rolled else ("failed" if condition(w, "Failed") else "running")
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
                                     age_seconds=age(w), message=message))
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
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        state = next((cs.get("state") or {} for cs in statuses if cs.get("name") == container), {})
        # A container that has just exited has its own logs; one waiting in its back-off, its previous run's.
        for previous in ((False, True) if "terminated" in state else (True, False)):
            try:
                text = self.api.request("GET", f"/api/v1/namespaces/{ref.namespace}/pods/{meta_of(pod)['name']}/log",
                                        what="read logs", query={"container": container, "tailLines": count,
                                                                 "previous": previous},
                                        retry=False, timeout=10, stream=True).data.decode("utf-8", "replace")
            except KubeApiError:
                continue
            lines = [line for line in text.splitlines() if line.strip()]
            # The kubelet answers 200 with this sentence when that run's log is already gone.
            if lines and not lines[0].startswith("unable to retrieve container logs"):
                return lines[-count:]
        return []

    # -- verifying -----------------------------------------------------------

    def _current_pods(self, ref: ProjectRef, workload: dict[str, Any]) -> list[dict[str, Any]]:
        """The live pods of the workload's current revision (a rollout's old pods are on their way out)."""
        service = labels_of(workload).get(LABEL_SERVICE, meta_of(workload)["name"])
        pods = [p for p in self._pods(ref, service) if not meta_of(p).get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") in ("Running", "Succeeded", "Pending")]
        if workload.get("kind") != "Deployment":
            return pods
        name = meta_of(workload)["name"]
        live = self.api.get(f"/apis/apps/v1/namespaces/{ref.namespace}/deployments/{name}", f"read Deployment/{name}")
        revision = ((live or {}).get("metadata", {}).get("annotations") or {}).get("deployment.kubernetes.io/revision")
        sets = self._list("apps/v1", "ReplicaSet", ref, project_selector(ref))
        current = {labels_of(rs).get("pod-template-hash") for rs in sets
                   if (meta_of(rs).get("annotations") or {}).get("deployment.kubernetes.io/revision") == revision
                   and any(o.get("name") == name for o in meta_of(rs).get("ownerReferences") or [])}
        return [p for p in pods if labels_of(p).get("pod-template-hash") in current]

    def verify_running(self, ref: ProjectRef, objects: list[dict[str, Any]]) -> list[str]:
        """Decided vs. running: every security difference between the approved workloads and their pods.

        The decided side is each approved (patched) object's pod template; the running
        side is each current pod as the API server stored it (after admission and any
        webhook) and the user the kubelet reports in its container status.
        """
        found: list[str] = []
        for obj in objects:
            kind = obj.get("kind")
            if kind not in ("Deployment", "StatefulSet", "Job"):
                continue
            decided = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
            pods = self._current_pods(ref, obj)
            for pod in pods:
                where = f"{kind}/{meta_of(obj)['name']} pod {meta_of(pod)['name']}"
                for diff in security_drift(decided, pod.get("spec") or {}):
                    found.append(f"{where}: {diff}")
                statuses = (pod.get("status") or {}).get("containerStatuses") or []
                for diff in runtime_drift(decided, statuses):
                    found.append(f"{where}: {diff}")
        return found

    def status(self, ref: ProjectRef) -> list[ServiceStatus]:
        return self._statuses(ref, explain=True)[0]

    def wait(self, ref: ProjectRef, timeout: float) -> list[ServiceStatus]:
        """Ready, and still ready `settle` seconds later (restarts unchanged).

        A container without a readiness probe is Ready the moment it starts, so one
        that exits at once makes its Deployment Available for an instant before the
        kubelet restarts it (seen on the test node): without the second look,
        `up --wait` reported a crash loop as ready.
        """
        deadline = time.monotonic() + timeout
        ready_since: tuple[float, list[int]] | None = None
        while True:
            statuses, ready = self._statuses(ref, explain=False)
            if ready and not statuses:
                return statuses  # nothing to wait for
            restarts = [s.restarts for s in statuses]
            if not ready or (ready_since and ready_since[1] != restarts):
                ready_since = None
            elif ready_since is None:
                ready_since = (time.monotonic(), restarts)
            if ready_since and time.monotonic() - ready_since[0] >= self.settle:
                return statuses
            if time.monotonic() >= deadline:
                statuses, ready = self._statuses(ref, explain=True)
                if ready and ready_since:
                    return statuses
                waiting = [s for s in statuses if s.state not in {"running", "completed", "stopped"}]
                reasons = "; ".join(f"{s.service} ({s.ready}/{s.desired} ready): {s.message or s.state}"
                                    for s in waiting)
                raise WaitTimeout(f"not ready after {timeout:g}s: {reasons}",
                                  data=[s.model_dump() for s in statuses])
            nap = self.poll if ready_since is None else min(self.poll, self.settle / 2)
            time.sleep(min(nap, max(0.05, deadline - time.monotonic())))

    def logs(self, ref: ProjectRef, service: str | None, tail: int | None, since: str | None,
             timestamps: bool = False) -> Iterator[str]:
        query_base = {"tailLines": tail, **parse_since(since), **({"timestamps": "true"} if timestamps else {})}
        pods = sorted(self._pods(ref, service), key=lambda p: (labels_of(p).get(LABEL_SERVICE, ""), meta_of(p)["name"]))
        if service and not pods and service not in {labels_of(w).get(LABEL_SERVICE) for w in self._workloads(ref)}:
            raise NotFound(f"project {ref.project} has no service {service!r}", hint="`spin ps` lists its services.")
        if not pods:
            yield f"{service or ref.project} | no logs: no pods are running"
            return
        streams = []
        for pod in pods:
            svc = labels_of(pod).get(LABEL_SERVICE, meta_of(pod)["name"])
            if not (pod.get("spec") or {}).get("nodeName"):
                why = (pod_problem(pod) or ("not started",))[0]
                yield f"{svc} | no logs: pod {meta_of(pod)['name']} has not started on any node ({why})"
                continue
            for container in (pod.get("spec") or {}).get("containers") or []:
                streams.append((svc, pod, container["name"]))
        for svc, pod, container in streams:
            yield from self._log_lines(ref, svc, pod, container, query_base)

    def _log_lines(self, ref: ProjectRef, svc: str, pod: dict[str, Any], container: str,
                   query: dict[str, Any]) -> Iterator[str]:
        name = meta_of(pod)["name"]
        prefix = f"{svc} | " if len((pod.get("spec") or {}).get("containers") or []) == 1 else f"{svc}/{container} | "
        try:
            resp = self.api.request("GET", f"/api/v1/namespaces/{ref.namespace}/pods/{name}/log", what="read logs",
                                    query={"container": container, **query}, retry=False, stream=True,
                                    timeout=30)
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


# KubeApi, api_error and parse_since are re-exported for callers that only know this module.
__all__ = ["FIELD_MANAGER", "KubeApi", "KubernetesBackend", "api_error", "parse_since"]
