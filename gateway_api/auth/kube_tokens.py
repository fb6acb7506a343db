"""The token registry in Kubernetes: one Secret, changed by compare-and-swap, read through a watch.

Several gateway replicas share it. A change (create, revoke, logout, revoke a user) reads the Secret,
applies the change to what it read and writes it back with that `resourceVersion`: if another replica
wrote in between, the API server answers 409 Conflict and the change is made again on the newer registry,
so no replica ever overwrites another's write. Checks (every request with a service token, every user
token) are answered from memory: each replica keeps the registry it last saw, kept current by a watch on
that one Secret (the API server pushes each change, typically within tens of milliseconds) and a fresh
read each time the watch is renewed (every `watch_seconds`).

Why a Secret and not a ConfigMap or a CRD: records hold no token strings, but who holds which scope is not
for every reader of ConfigMaps; a CRD would be a cluster-wide object to install and upgrade for one small
document. One object gives one resourceVersion to compare-and-swap, and one watch. Its size limit (1 MiB,
about 3,000 records) is kept by pruning what can no longer matter (Registry.prune).

Fail closed: a replica that has not heard from the API server for `stale_after` seconds cannot know what
was revoked meanwhile, so it refuses every token (503, retry) until it hears again.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from spin_gateway.backends.kube_api import KubeApi
from spin_gateway.gateway_api.auth.service_tokens import Registry, TokenRecord
from spin_gateway.vocabulary.errors import IdentityUnavailable, KubeApiError, SpinError

log = logging.getLogger("spin.tokens")

DATA_KEY = "registry.json"
T = TypeVar("T")


def _newer(rv: str | None, than: str | None) -> bool:
    """Whether resourceVersion rv is newer than `than`. They are etcd revisions (integers) on every server
    we know; if one is not, take the later arrival (the watch delivers in order)."""
    if than is None:
        return True
    if rv is None:
        return False
    try:
        return int(rv) > int(than)
    except ValueError:
        return True


class KubeTokenStore:
    def __init__(self, api: KubeApi, namespace: str, name: str = "spin-tokens", *, watch_seconds: int = 30,
                 stale_after: float = 90.0, change_timeout: float = 30.0, start: bool = True):
        self.api, self.namespace, self.name = api, namespace, name
        self.watch_seconds, self.stale_after, self.change_timeout = watch_seconds, stale_after, change_timeout
        self._lock = threading.Lock()
        self._registry = Registry()
        self._rv: str | None = None
        self._heard = 0.0  # monotonic time the API server last answered the watch or a read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path = f"/api/v1/namespaces/{namespace}/secrets"
        self.refresh()  # at start: the registry must be readable (RBAC, namespace), or the gateway does not start
        if start:
            self._thread = threading.Thread(target=self._watch_loop, name="token-watch", daemon=True)
            self._thread.start()

    # -- reading --------------------------------------------------------------------------------------

    def _decode(self, secret: dict[str, Any] | None) -> Registry:
        if secret is None:
            return Registry()
        raw = (secret.get("data") or {}).get(DATA_KEY)
        if not raw:
            return Registry()
        try:
            return Registry.from_json(json.loads(base64.b64decode(raw)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IdentityUnavailable(f"the token registry (Secret {self.namespace}/{self.name}, key {DATA_KEY}) "
                                      f"cannot be read: {type(exc).__name__}",
                                      hint="Tell the gateway's administrators: the Secret was edited by hand.") from None

    def _fetch(self) -> tuple[Registry, str | None]:
        secret = self.api.get(f"{self._path}/{self.name}", "read the token registry")
        return self._decode(secret), (secret or {}).get("metadata", {}).get("resourceVersion")

    def _take(self, registry: Registry, rv: str | None, *, deleted: bool = False) -> None:
        with self._lock:
            self._heard = time.monotonic()
            if deleted or _newer(rv, self._rv):
                self._registry, self._rv = registry, rv

    def refresh(self) -> None:
        """Read the Secret now (the watch does this itself; tests and start call it)."""
        registry, rv = self._fetch()
        with self._lock:
            self._heard = time.monotonic()
            # A read is always the server's current state: take it even if older than a write we saw
            # (a Secret deleted and made again starts its versions anew).
            self._registry, self._rv = registry, rv

    def _current(self) -> Registry:
        with self._lock:
            silent = time.monotonic() - self._heard
            registry = self._registry
        if silent > self.stale_after:
            raise IdentityUnavailable(f"the token registry in Kubernetes has not been reachable for {silent:.0f}s, "
                                      "so revocations made meanwhile cannot be ruled out",
                                      hint="Retry in a moment; administrators: check the API server and the "
                                           "gateway's RBAC for Secrets in its namespace.")
        return registry

    def _watch_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self.refresh()
                self._watch_once()
                backoff = 0.5
            except Exception as exc:  # the loop must outlive any failure; the staleness check fails closed
                log.warning("token registry watch failed (%s); retrying in %.1fs",
                            exc.message if isinstance(exc, SpinError) else type(exc).__name__, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _watch_once(self) -> None:
        with self._lock:
            rv = self._rv
        query = {"watch": "true", "fieldSelector": f"metadata.name={self.name}",
                 "timeoutSeconds": str(self.watch_seconds), "allowWatchBookmarks": "true"}
        if rv is not None:
            query["resourceVersion"] = rv
        resp = self.api.request("GET", self._path, what="watch the token registry", query=query, retry=False,
                                stream=True, timeout=self.watch_seconds + 15)
        try:
            buffer = b""
            for chunk in resp.stream(4096, decode_content=True):
                if self._stop.is_set():
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip() and not self._event(json.loads(line)):
                        return
            with self._lock:
                self._heard = time.monotonic()  # a watch that ran its course and closed is the server answering
        finally:
            resp.release_conn()

    def _event(self, event: dict[str, Any]) -> bool:
        """Take one watch event; False to read afresh (the server says our version is too old)."""
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            return False  # 410 Gone and friends: the loop reads the Secret again and watches from there
        rv = obj.get("metadata", {}).get("resourceVersion")
        if kind == "BOOKMARK":
            with self._lock:
                self._heard = time.monotonic()
            return True
        if kind == "DELETED":
            # Someone deleted the registry: every service token is unknown from now on (refused).
            log.warning("the token registry Secret %s/%s was deleted", self.namespace, self.name)
            self._take(Registry(), rv, deleted=True)
            return True
        self._take(self._decode(obj), rv)
        return True

    # -- changing: compare-and-swap on resourceVersion ------------------------------------------------

    def _change(self, change: Callable[[Registry], T]) -> T:
        deadline = time.monotonic() + self.change_timeout
        attempt = 0
        while True:
            secret = self.api.get(f"{self._path}/{self.name}", "read the token registry")
            registry = self._decode(secret)
            result = change(registry)  # may raise (NotFound): nothing is written
            registry.prune(int(time.time()))
            data = {DATA_KEY: base64.b64encode(json.dumps(registry.to_json(), separators=(",", ":")).encode()).decode()}
            try:
                if secret is None:
                    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
                            "metadata": {"name": self.name, "namespace": self.namespace,
                                         "labels": {"app.kubernetes.io/managed-by": "spin-gateway",
                                                    "app.kubernetes.io/component": "token-registry"}}}
                    written = self.api.request("POST", self._path, what="create the token registry", body=body,
                                               retry=False)
                else:
                    # The resourceVersion we read is the precondition: 409 if anyone wrote since.
                    body = {**secret, "data": data}
                    written = self.api.request("PUT", f"{self._path}/{self.name}", what="update the token registry",
                                               body=body, retry=False)
            except KubeApiError as exc:
                attempt += 1
                retry = exc.status == 409 or exc.status in (429, 500, 502, 503, 504) or exc.status is None
                if not retry or time.monotonic() >= deadline:
                    raise
                # Jitter, so replicas that collided do not collide again in step.
                time.sleep(min(0.02 * 2 ** min(attempt, 6), 1.0) * random.uniform(0.5, 1.5))
                continue
            self._take(registry, written.get("metadata", {}).get("resourceVersion"))
            return result

    # -- the TokenStore interface ---------------------------------------------------------------------

    def add(self, record: TokenRecord) -> None:
        self._change(lambda r: r.add(record))

    def revoke(self, token_id: str) -> TokenRecord:
        return self._change(lambda r: r.revoke(token_id))

    def revoke_user_token(self, token_id: str, user: str, expires_at: int) -> None:
        self._change(lambda r: r.revoke_user_token(token_id, user, expires_at))

    def revoke_user(self, user: str, cutoff: int) -> int:
        return self._change(lambda r: r.revoke_user(user, cutoff))

    def list(self) -> list[TokenRecord]:
        self.refresh()  # an administrator's listing reads the API server, not this replica's copy
        return sorted(self._current().tokens.values(), key=lambda r: r.created_at)

    def check_active(self, token_id: str) -> TokenRecord:
        return self._current().check_service(token_id)

    def check_user(self, user: str, token_id: str, issued_at: int) -> None:
        self._current().check_user(user, token_id, issued_at)

    def close(self) -> None:
        self._stop.set()
