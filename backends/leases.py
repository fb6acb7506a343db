"""Project locks as coordination.k8s.io/v1 Leases: one per project, shared by every gateway replica.

Where: the gateway's own namespace (`spin-system` unless told otherwise), named `spin-project-<namespace>`.
Not the project's namespace: before a first `up` it does not exist, `down` deletes it with whatever is in
it (the lock and the journal of an operation still running), and whoever may write in it could move the
lock. The gateway's namespace exists before any project, and a Role there is all the gateway needs.

How: the holder writes `holderIdentity` (replica and pid), `leaseDurationSeconds`, `acquireTime` and
`renewTime`, and renews every third of the duration while its operation runs. A request that finds the
Lease held watches it, so it goes on the moment the holder releases it. Every write carries the
resourceVersion it read (compare-and-swap): of two replicas that try at once, one wins and the other
waits. A lease whose holder stopped renewing (the replica died) is expired once `renewTime` plus its
duration has passed, or once this replica has seen it unchanged for a whole duration (clocks may
differ); then the next request takes it over (`leaseTransitions` counts holders). The journal of the
operation in progress is an annotation on the same Lease, so whoever takes the lock over reads it with
the lock, in one object, under one resourceVersion.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from spin_gateway.backends.kube_api import KubeApi
from spin_gateway.backends.locks import DEFAULT_WAIT_SECONDS, Journal, busy, holder_identity, now_iso
from spin_gateway.vocabulary.errors import Conflict, KubeApiError
from spin_gateway.vocabulary.labels import JOURNAL_ANNOTATION, LABEL_LOCKED_NAMESPACE, LABEL_MANAGED_BY

DEFAULT_NAMESPACE = "spin-system"
_SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def gateway_namespace(configured: str | None) -> str:
    """The namespace the Leases live in: as configured, else the pod's own (in the cluster), else spin-system."""
    if configured:
        return configured
    try:
        with open(_SA_NAMESPACE) as fh:
            return fh.read().strip() or DEFAULT_NAMESPACE
    except OSError:
        return DEFAULT_NAMESPACE


def _parse(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        try:
            return datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            return None


class _LeaseHeld:
    def __init__(self, locks: LeaseLocks, path: str, lease: dict[str, Any], waited: float,
                 unfinished: Journal | None):
        self.locks = locks
        self.path = path
        self.lease = lease
        self.holder = lease["spec"]["holderIdentity"]
        self.waited = waited
        self.unfinished = unfinished
        self.lost: str | None = None
        self._journal: Journal | None = unfinished  # what the Lease carries now
        self._retire = False
        self._io = threading.Lock()  # renewals and journal writes, one at a time
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name=f"lease-{path.rsplit('/', 1)[-1]}")
        self._renewer.start()

    def _write(self, change) -> None:
        """Apply `change` to the Lease and PUT it with the resourceVersion read; re-read on a conflict."""
        for _ in range(5):
            body = change(_copy(self.lease))
            body["spec"]["renewTime"] = now_iso()
            try:
                self.lease = self.locks.api.request("PUT", self.path, what="renew the project's lease", body=body,
                                                    retry=False)
                return
            except KubeApiError as exc:
                if exc.status != 409:
                    raise
            current = self.locks.api.get(self.path, "read the project's lease")
            if current is None or (current.get("spec") or {}).get("holderIdentity") != self.holder:
                who = (current or {}).get("spec", {}).get("holderIdentity") or "nobody"
                self.lost = f"the lease was taken over by {who}"
                raise Conflict(f"lost the lock of the project to {who} while this operation ran "
                               "(this gateway did not renew it in time)",
                               hint="Run the command again: it converges.")
            self.lease = current
        raise Conflict("could not update the project's lease (kept changing)", hint="Run the command again.")

    def _renew_loop(self) -> None:
        every = max(0.2, self.locks.duration / 3)
        while not self._stop.wait(every):
            with self._io:
                if self._stop.is_set() or self.lost:
                    return
                try:
                    self._write(lambda lease: lease)
                except Conflict:
                    return
                except KubeApiError:
                    continue  # the API server is slow or away: try again before the lease runs out

    def record(self, journal: Journal | None) -> None:
        if journal is not None:
            journal.updated = now_iso()
        text = journal.to_json() if journal is not None else None
        with self._io:
            if self.lost:
                raise Conflict(f"lost the lock of the project: {self.lost}", hint="Run the command again.")
            if journal is None:
                self._journal = None  # cleared together with the release: one write fewer per operation
                return
            self._write(lambda lease: _annotate(lease, text))
            self._journal = journal

    def retire(self) -> None:
        """The project is gone (a finished `down`): delete its Lease instead of releasing it."""
        self._retire = True

    def release(self) -> None:
        self._stop.set()
        with self._io:
            if self.lost:
                return
            try:
                if self._retire and self._journal is None:
                    rv = self.lease["metadata"]["resourceVersion"]
                    self.locks.api.request("DELETE", self.path, what="delete the project's lease", retry=False,
                                           body={"apiVersion": "v1", "kind": "DeleteOptions",
                                                 "preconditions": {"resourceVersion": rv}})
                    return
                text = self._journal.to_json() if self._journal is not None else None

                def released(lease: dict[str, Any]) -> dict[str, Any]:
                    lease["spec"]["holderIdentity"] = None
                    return _annotate(lease, text)

                self._write(released)
            except (KubeApiError, Conflict):
                pass  # unreleased, it expires after its duration: the next holder takes it over then


def _since(blocked: float | None) -> float:
    """How long a request waited for another's lock: not the round trips of taking a free one."""
    return 0.0 if blocked is None else time.monotonic() - blocked


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(obj)


def _annotate(lease: dict[str, Any], text: str | None) -> dict[str, Any]:
    annotations = lease["metadata"].setdefault("annotations", {}) or {}
    lease["metadata"]["annotations"] = annotations
    if text is None:
        annotations.pop(JOURNAL_ANNOTATION, None)
    else:
        annotations[JOURNAL_ANNOTATION] = text
    return lease


class LeaseLocks:
    """One coordination.k8s.io/v1 Lease per project in the gateway's namespace."""

    def __init__(self, api: KubeApi, namespace: str | None = None, *, duration: float = 15,
                 wait: float = DEFAULT_WAIT_SECONDS, poll: float = 0.25):
        self.api = api
        self.namespace = gateway_namespace(namespace)
        self.duration = duration
        self.wait = wait
        self.poll = poll
        self._local: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._no_watch = False

    def _path(self, name: str | None = None) -> str:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"
        return f"{base}/{name}" if name else base

    @staticmethod
    def lease_name(namespace: str) -> str:
        return f"spin-project-{namespace}"

    @contextlib.contextmanager
    def hold(self, namespace: str, *, wait: float | None = None) -> Iterator[_LeaseHeld]:
        # One thread of this process at a time: the holder identity names the process, not the thread.
        with self._guard:
            local = self._local.setdefault(namespace, threading.Lock())
        began = time.monotonic()
        budget = self.wait if wait is None else wait
        blocked: float | None = None  # since when another request held the project (None: it was free)
        if not local.acquire(blocking=False):
            blocked = began
            if not local.acquire(timeout=budget):
                raise busy(namespace, holder_identity(), time.monotonic() - began)
        try:
            held = self._acquire(namespace, began, began + budget, blocked)
            try:
                yield held
            finally:
                held.release()
        finally:
            local.release()

    def _acquire(self, namespace: str, began: float, deadline: float, blocked: float | None) -> _LeaseHeld:
        name = self.lease_name(namespace)
        path = self._path(name)
        me = holder_identity()
        seen: tuple[str, float] | None = None  # (resourceVersion, when this process first saw it)
        nap = self.poll
        while True:
            lease = self.api.get(path, "read the project's lease")
            stamp = now_iso()
            if lease is None:
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": name, "namespace": self.namespace,
                                     "labels": {LABEL_MANAGED_BY: "spin", LABEL_LOCKED_NAMESPACE: namespace}},
                        "spec": {"holderIdentity": me, "leaseDurationSeconds": self._seconds(),
                                 "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
                try:
                    created = self.api.request("POST", self._path(), what="create the project's lease", body=body,
                                               retry=False)
                except KubeApiError as exc:
                    if exc.status != 409:
                        raise
                    continue  # another replica created it first: read it again
                return _LeaseHeld(self, path, created, _since(blocked), None)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            rv = lease["metadata"]["resourceVersion"]
            if seen is None or seen[0] != rv:
                seen = (rv, time.monotonic())
            # Even a holder with this very identity (a restarted pod whose process got the same pid) is waited
            # out until its lease expires: two gateways in one process must never both think it theirs.
            if not holder or self._expired(spec, seen[1]):
                # Free, or its holder stopped renewing: a replica or process that died.
                taken = _copy(lease)
                taken["spec"].update({"holderIdentity": me, "leaseDurationSeconds": self._seconds(),
                                      "acquireTime": stamp, "renewTime": stamp,
                                      "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)})
                try:
                    mine = self.api.request("PUT", path, what="take the project's lease", body=taken, retry=False)
                except KubeApiError as exc:
                    if exc.status not in (404, 409):
                        raise
                    continue  # someone else was quicker (or it was deleted): read it again
                unfinished = Journal.from_json((lease["metadata"].get("annotations") or {})
                                                .get(JOURNAL_ANNOTATION))
                return _LeaseHeld(self, path, mine, _since(blocked), unfinished)
            if blocked is None:
                blocked = time.monotonic()
            left = deadline - time.monotonic()
            if left <= 0:
                raise busy(namespace, holder, time.monotonic() - began, spec.get("acquireTime") or "")
            # Until the holder renews, releases or runs out: a watch wakes us at once on the release.
            renewed = _parse(spec.get("renewTime")) or time.time()
            expires_in = renewed + float(spec.get("leaseDurationSeconds") or 0) - time.time()
            if not self._watch(name, rv, min(left, max(1.0, expires_in + 0.2))):
                time.sleep(min(nap, max(0.01, left)))
                nap = min(1.0, nap * 1.5)  # many waiters must not flood the API server with reads

    def _watch(self, name: str, rv: str, timeout: float) -> bool:
        """Block until the Lease changes (or `timeout`); False if this API server would not watch it."""
        if self._no_watch:
            return False
        try:
            resp = self.api.request("GET", self._path(), what="watch the project's lease", retry=False, stream=True,
                                    timeout=timeout + 5,
                                    query={"watch": "true", "fieldSelector": f"metadata.name={name}",
                                           "resourceVersion": rv, "timeoutSeconds": max(1, int(timeout + 0.999)),
                                           "allowWatchBookmarks": "false"})
        except KubeApiError as exc:
            if exc.status in (401, 403, 405):
                self._no_watch = True  # RBAC without `watch`: poll instead
            return False
        try:
            for _ in resp.stream(1024):  # the first event (any change) is all we need
                return True
            return True  # the server's timeout passed: look again
        except Exception:
            return False
        finally:
            resp.release_conn()

    def _seconds(self) -> int:
        return max(1, round(self.duration))

    @staticmethod
    def _expired(spec: dict[str, Any], seen_since: float) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or 0)
        renewed = _parse(spec.get("renewTime"))
        if renewed is not None and renewed + duration < time.time():
            return True
        # Unchanged for a whole duration as this process saw it: expired whatever the clocks say.
        return time.monotonic() - seen_since > duration


__all__ = ["DEFAULT_NAMESPACE", "JOURNAL_ANNOTATION", "LeaseLocks", "gateway_namespace"]
