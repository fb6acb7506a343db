"""The one boundary between spin and the Kubernetes API: requests, discovery, and errors mapped.

Every request goes through `KubeApi.request`: the official client's ApiClient
adds credentials (kubeconfig, or the in-cluster service account with its token
refreshed), idempotent requests are retried on conflicts, throttling and 5xx,
every request has a timeout, and whatever the client raises becomes a
KubeApiError carrying the Kubernetes Status reason and code and a hint.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from spin_gateway.vocabulary.errors import KubeApiError, KubeUnreachable, UsageError

#: APIs newer than some clusters still in service: which Kubernetes release first serves them.
INTRODUCED_IN = {
    ("batch/v1", "CronJob"): "1.21",
    ("policy/v1", "PodDisruptionBudget"): "1.21",
    ("discovery.k8s.io/v1", "EndpointSlice"): "1.21",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "1.23",
    ("networking.k8s.io/v1", "Ingress"): "1.19",
}
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}

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
    import urllib3.exceptions as u3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    if isinstance(exc, ApiException) and exc.status:
        status = _status_of(exc)
        code = int(exc.status)
        reason = status.get("reason") or exc.reason or ""
        message = status.get("message") or f"HTTP {code} {exc.reason or ''}".strip()
        causes = (status.get("details") or {}).get("causes") or []
        if code == 422 and causes:
            # The server's message can embed a Go dump of the whole object (an immutable pod
            # template); the causes name each field, with only the end of an overlong message.
            fields = "; ".join(f"{c.get('field', '?')}: {_short(c.get('message', ''))}" for c in causes[:5])
            details = status.get("details") or {}
            kind, name = (details.get("kind") or "object").capitalize(), details.get("name", "")
            message = f'{kind} "{name}" is invalid: {fields}' if len(message) > 300 else (
                message if fields in message else f"{message} ({fields})")
        hint = _hint_for(code, message)
        # An API server that is overloaded or failing (429, 5xx) is unavailable, not a verdict on the request.
        cls = KubeUnreachable if code == 429 or code >= 500 else KubeApiError
        return cls(f"Kubernetes refused to {what}: {message}", hint, status=code, reason=reason)
    if isinstance(exc, (u3.TimeoutError, TimeoutError)):
        return KubeUnreachable(f"Kubernetes API did not answer in time ({what})",
                            "The cluster is slow or unreachable; run the command again: it converges.",
                            status=None, reason="Timeout")
    if isinstance(exc, (u3.HTTPError, ConnectionError, OSError)) or (isinstance(exc, ApiException) and not exc.status):
        return KubeUnreachable(f"cannot reach the Kubernetes API ({what}): {type(exc).__name__}",
                            "Check that the cluster is up and that --kubeconfig/--context point at it.",
                            status=None, reason="Unreachable")
    if isinstance(exc, ConfigException):
        return KubeUnreachable(f"Kubernetes client configuration is not usable: {exc}",
                            "Pass a working --kubeconfig (and --context), or run the gateway inside the cluster.",
                            status=None, reason="ConfigError")
    return KubeApiError(f"Kubernetes request failed ({what}): {type(exc).__name__}", status=None, reason="Unknown")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text.rsplit(": ", 1)[-1][-limit:]


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
        payload = body if content_type.endswith("json") or body is None else json.dumps(body)
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


def client_from(kubeconfig: str | None, context: str | None) -> Any:
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


__all__ = ["INTRODUCED_IN", "KubeApi", "Resource", "api_error", "client_from"]
