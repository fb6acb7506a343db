"""The CLI's HTTP client: one place that turns gateway answers and transport failures into SpinErrors."""

from __future__ import annotations

from typing import Any

import httpx

from spin_gateway.vocabulary import errors as E

# HTTP status -> the error class whose exit code the CLI should use.
_BY_STATUS = {400: E.UsageError, 401: E.AuthError, 403: E.Forbidden, 404: E.NotFound, 409: E.Conflict,
              422: E.ComposeError, 500: E.PolicyLoadError, 502: E.ForwardError, 503: E.IdentityUnavailable,
              504: E.WaitTimeout}
_BY_NAME = {name: getattr(E, name) for name in E.__all__}


class GatewayClient:
    def __init__(self, base_url: str, token: str | None, timeout: float = 300):
        self.base_url = base_url
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise E.ForwardError(f"the gateway at {self.base_url} did not answer in time",
                                 hint="Try again; if it persists, tell the gateway's administrators.") from None
        except httpx.TransportError as exc:
            raise E.ForwardError(f"cannot reach the gateway at {self.base_url}: {type(exc).__name__}",
                                 hint="Is it running? Set SPIN_GATEWAY or --gateway to its URL.") from None
        if response.status_code < 400:
            return response.json()
        try:
            body = response.json()
        except ValueError:
            body = {"error": "HTTPError", "detail": response.text[:500], "hint": ""}
        cls = _BY_NAME.get(body.get("error")) or _BY_STATUS.get(response.status_code)
        if cls is None:
            cls = E.ForwardError if response.status_code >= 500 else E.UsageError
        error = cls(body.get("detail", ""), body.get("hint") or None)
        error.details = body.get("data") or {}
        raise error
