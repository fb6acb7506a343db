"""The CLI's HTTP client: transport failures and error answers become SpinErrors (mapped by cli/errors.py)."""

from __future__ import annotations

from typing import Any

import httpx

from spin_gateway.cli.errors import error_from_answer
from spin_gateway.vocabulary import errors as E


class GatewayClient:
    def __init__(self, base_url: str, token: str | None, timeout: float = 300):
        self.base_url = base_url
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise E.BackendUnavailable(f"the gateway at {self.base_url} did not answer in time",
                                 hint="Try again; if it persists, tell the gateway's administrators.") from None
        except httpx.TransportError as exc:
            raise E.BackendUnavailable(f"cannot reach the gateway at {self.base_url}: {type(exc).__name__}",
                                 hint="Is it running? Set SPIN_GATEWAY or --gateway to its URL.") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise error_from_answer(response.status_code, body, f"the gateway at {self.base_url}")
        if body is None:
            raise E.InternalError(f"the answer of {self.base_url}{path} is not JSON (HTTP {response.status_code})",
                                  hint="Is SPIN_GATEWAY or --gateway the URL of a spin gateway?")
        return body
