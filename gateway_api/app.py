"""The FastAPI application, assembled: the gateway's parts in the app state, the error handlers, the routes.

Routes (routes/, one module per resource) are plain `def`, so FastAPI runs them in its thread pool: policy
evaluation, podman and Kubernetes calls never block the event loop. What they depend on (the caller, the
gateway, the settings) is declared in deps.py.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from spin_gateway.audit import records
from spin_gateway.gateway_api.admission import AdmissionWebhook
from spin_gateway.gateway_api.auth.service_tokens import TokenRegistry, TokenStore
from spin_gateway.gateway_api.auth.tokens import TokenSigner
from spin_gateway.gateway_api.deps import client_address
from spin_gateway.gateway_api.gateway import Gateway
from spin_gateway.gateway_api.routes import ERRORS, admission, audit, auth, health, policy, projects, tokens
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.vocabulary.errors import SpinError


def _error(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(status_code=status, content=body)


def _watch_policy(gateway: Gateway, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        gateway.policy.try_reload()


def _one_error_body(app: FastAPI) -> None:
    """The OpenAPI document promises ErrorBody for every 422, as the handler above sends.

    FastAPI documents its own HTTPValidationError for routes with parameters; schemathesis
    found every such route's 422 breaking its documented schema.
    """
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, methods in doc.get("paths", {}).items():
            for op in methods.values():
                if op.get("parameters") or op.get("requestBody"):
                    op["responses"]["422"] = {"description": "Invalid input", "content": ref}
                if path.startswith("/v1/"):  # the identity source (LDAP) is consulted on every call
                    op["responses"].setdefault("503", {"description": ERRORS[503]["description"], "content": ref})
                if op.get("requestBody"):  # a body that is not JSON at all
                    op["responses"].setdefault("400", {"description": "The body cannot be parsed", "content": ref})
        for unused in ("HTTPValidationError", "ValidationError"):
            doc.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _refused(request: Request, status: int, body: dict[str, Any], exc: Exception | None = None) -> JSONResponse:
    """Every refusal goes on the record (401, 403, 422, 5xx and the rest), once: refusals the gateway already
    audited (policy decisions, access denials, backend failures) carry `audited`."""
    if not getattr(exc, "audited", False):
        caller = getattr(request.state, "caller", None)
        record = records.refusal(status, body.get("error"), str(body.get("detail", "")), request.method,
                                 request.url.path, client_address(request), caller.who() if caller else None)
        try:
            request.app.state.gateway.audit.write(record)
        except Exception:  # the answer still goes out; an unwritable log fails every forward anyway
            pass
    return _error(status, body)


def _handle_errors(app: FastAPI) -> None:
    """One error body everywhere: {error, detail, hint}, never a traceback, and each one on the record."""

    @app.exception_handler(SpinError)
    async def spin_error(request: Request, exc: SpinError):
        return _refused(request, exc.http_status, exc.to_body(), exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        return _refused(request, 422, {"error": "InvalidRequest", "detail": problems,
                                       "hint": "See /openapi.json for the schema."})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _refused(request, exc.status_code, {"error": "HTTPError", "detail": str(exc.detail),
                                                   "hint": "See /docs for the routes."})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        return _refused(request, 500, {"error": "InternalError", "detail": f"{type(exc).__name__}",
                                       "hint": "This is a bug in the gateway; the administrators have the log."})


def create_app(settings: Settings, gateway: Gateway, signer: TokenSigner, token_store: TokenStore | None = None) -> FastAPI:
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        if settings.policy_poll_seconds > 0:
            threading.Thread(target=_watch_policy, args=(gateway, settings.policy_poll_seconds, stop),
                             daemon=True, name="policy-watch").start()
        yield
        stop.set()

    app = FastAPI(title="Spin gateway", version="0.1.0", lifespan=lifespan,
                  description="Compose projects become Kubernetes objects, each call decided by the facility's Rego "
                              "policies and audited. Every error has the body {error, detail, hint}.")
    # What deps.py hands the routes.
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.signer = signer
    app.state.tokens = token_store if token_store is not None else TokenRegistry(settings.state_dir / "tokens.json")
    app.state.admission = AdmissionWebhook(gateway)
    _handle_errors(app)
    for module in (health, auth, projects, policy, audit, tokens, admission):
        app.include_router(module.router)
    _one_error_body(app)
    return app


def build_app(settings: Settings) -> FastAPI:
    from spin_gateway.gateway_api.wiring import make_gateway, make_token_store

    gateway, signer = make_gateway(settings)
    return create_app(settings, gateway, signer, make_token_store(settings))
