"""The REST routes, one module per resource; each route authenticates (deps.py) and calls one operation.

What every route documents in common lives here: the project name parameter and the error responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import Path

from spin_gateway.gateway_api.schemas import ErrorBody
from spin_gateway.vocabulary.naming import PROJECT_NAME_PATTERN

PROJECT = Path(pattern=PROJECT_NAME_PATTERN, description="Compose project name", examples=["demo"])

_TEXTS = {400: "Bad request", 500: "The policy folder does not compile", 401: "Not authenticated",
          403: "Refused: by policy or access rules", 404: "Not found", 409: "Conflict", 422: "Invalid input",
          502: "Backend failed", 503: "A dependency is unavailable (policy engine, identity, audit log)",
          504: "Timed out waiting"}
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody, "description": text}
                                           for code, text in _TEXTS.items()}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route."""
    return {code: ERRORS[code] for code in codes}
