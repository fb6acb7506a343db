"""An external OPA server as the engine (`--opa-url`), through opa-python-client.

The server must hold the same rego/ folder, loaded as a bundle (docs/policy-engine.md):
`opa run --server --bundle rego/` with the site data beside it. The input and the
answer are those of the embedded engine: POST /v1/data/spin/admission {"input": ...}
answers {"result": {"deny": [...], "patch": [...], "warn": [...]}}.

On start the engine compares the server's modules and site data with the local
bundle and refuses a server that holds anything else, so the revision written
into each decision and audit record names what the server really decides with.
Every failure (unreachable, timeout, an HTTP error, an undefined or malformed
result) raises; the policy service turns that into a denial (fail closed).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client.opa import OpaClient

from spin_gateway.policy.bundle import DECISION_PATH, PolicyBundle
from spin_gateway.vocabulary.errors import OpaUnavailable, PolicyError, PolicyLoadError, UsageError


def _client_for(url: str, timeout: float, token: str | None) -> OpaClient:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--opa-url {url!r} is not an http(s) URL", hint="Pass e.g. --opa-url http://127.0.0.1:8181")
    if parts.path not in ("", "/"):
        raise UsageError(f"--opa-url {url!r} has a path; OPA serves its API at the root",
                         hint="Pass only scheme, host and port, e.g. http://127.0.0.1:8181")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    # No retries: a decision that waits out backoffs is a slow denial; the gateway's caller can retry.
    return OpaClient(host=parts.hostname, port=port, ssl=parts.scheme == "https", token=token,
                     retries=0, timeout=timeout)


def _digest(sources: list[str]) -> str:
    return hashlib.sha256("\0".join(sorted(sources)).encode()).hexdigest()[:16]


class OpaServerEngine:
    name = "opa-server"

    def __init__(self, bundle: PolicyBundle, url: str, *, timeout: float = 1.5, token: str | None = None,
                 verify: bool = True):
        self.bundle = bundle
        self.url = url
        self._client = _client_for(url, timeout, token)
        if verify:
            self._verify_same_bundle()

    def _get(self, path: str) -> Any:
        try:
            response = self._client._session.get(f"{self._client.root_url}/{path}", timeout=self._client.timeout)
        except requests.RequestException as exc:
            raise OpaUnavailable(f"the OPA server at {self.url} did not answer: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise OpaUnavailable(f"the OPA server at {self.url} answered {response.status_code} to GET /v1/{path}")
        return response.json().get("result")

    def _verify_same_bundle(self) -> None:
        """Refuse a server whose modules or site data differ from the local rego/ folder."""
        policies = self._get("policies") or []
        served = [p.get("raw", "") for p in policies if not str(p.get("id", "")).endswith("_test.rego")]
        if _digest(served) != _digest(list(self.bundle.modules.values())):
            raise PolicyLoadError(
                f"the OPA server at {self.url} holds other policies than {self.bundle.root} "
                f"({len(served)} modules there, {len(self.bundle.modules)} here)",
                hint="Load the same rego/ folder into OPA as a bundle (docs/policy-engine.md), then restart.")
        site = self._get("data/spin/config") or {}
        if site != self.bundle.site:
            raise PolicyLoadError(f"the OPA server at {self.url} holds other site data than {self.bundle.root}",
                                  hint="Give OPA the same site data (data.spin.config) as the gateway.")

    def evaluate(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        try:
            body = self._client.query_rule(policy_input, DECISION_PATH)
        except requests.Timeout:
            raise OpaUnavailable(f"the OPA server at {self.url} did not answer within {self._client.timeout:g}s") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise OpaUnavailable(f"the OPA server at {self.url} answered HTTP {status}") from None
        except requests.RequestException as exc:
            raise OpaUnavailable(f"the OPA server at {self.url} did not answer: {type(exc).__name__}") from None
        except ValueError:
            raise PolicyError(f"the OPA server at {self.url} answered something that is not JSON") from None
        if not isinstance(body, dict) or "result" not in body:
            # OPA answers {} when the document is undefined: the package is not loaded there.
            raise PolicyError(f"data.{DECISION_PATH} is undefined on the OPA server at {self.url}")
        result = body["result"]
        if not isinstance(result, dict):
            raise PolicyError(f"the OPA server at {self.url} answered data.{DECISION_PATH} with a "
                              f"{type(result).__name__}, not an object")
        return result

    def close(self) -> None:
        self._client.close_connection()
