"""The FastAPI application: authentication, one error handler, thin routes over Gateway.

Routes are plain `def`, so FastAPI runs them in its thread pool: policy
evaluation, podman and Kubernetes calls never block the event loop.
"""


import collections
import contextlib
import json
import threading
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from spin_gateway.audit.query import AuditFilter, Viewer, query
from spin_gateway.gateway_api.auth.service_tokens import TokenRecord, TokenRegistry, TokenScope
from spin_gateway.gateway_api.auth.tokens import TokenSigner
from spin_gateway.gateway_api.gateway import Caller, Gateway
from spin_gateway.gateway_api.policy_eval import PolicyEvalRequest, PolicyEvalResponse
from spin_gateway.gateway_api.policy_eval import evaluate as evaluate_policy
from spin_gateway.gateway_api.schemas import (
    AuditPage,
    ComposeRequest,
    ConvertResponse,
    ErrorBody,
    Health,
    LoginRequest,
    LogsResponse,
    PlanResponse,
    PolicyInfo,
    ProjectList,
    ServiceTokenRequest,
    ServiceTokenResponse,
    StatusResponse,
    TokenResponse,
    WhoAmI,
)
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.gateway_api.source import client_source
from spin_gateway.vocabulary.errors import AuthError, Forbidden, NotFound, SpinError

PROJECT = Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Compose project name", examples=["demo"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {400: "Bad request", 500: "The policy folder does not compile", 401: "Not authenticated", 403: "Refused: by policy or access rules",
                       404: "Not found", 409: "Conflict", 422: "Invalid input", 502: "Backend failed",
                       503: "A dependency is unavailable (policy engine, identity, audit log)",
                       504: "Timed out waiting"}.items()
}


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


def create_app(settings: Settings, gateway: Gateway, signer: TokenSigner) -> FastAPI:
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        watcher = None
        if settings.policy_poll_seconds > 0:
            watcher = threading.Thread(target=_watch_policy, args=(gateway, settings.policy_poll_seconds, stop),
                                       daemon=True, name="policy-watch")
            watcher.start()
        yield
        stop.set()

    app = FastAPI(title="Spin gateway", version="0.1.0", lifespan=lifespan,
                  description="Compose projects become Kubernetes objects, each call decided by the facility's Rego "
                              "policies and audited. Every error has the body {error, detail, hint}.")
    app.state.gateway = gateway
    app.state.signer = signer

    def refused(request: Request, status: int, body: dict[str, Any], exc: Exception | None = None) -> JSONResponse:
        """Every refusal goes on the record (401, 403, 422, 5xx and the rest), once: refusals the gateway already
        audited (policy decisions, access denials, backend failures) carry `audited`."""
        if not getattr(exc, "audited", False):
            caller = getattr(request.state, "caller", None)
            record = {"type": "refusal", "status": status, "error": body.get("error"),
                      "detail": str(body.get("detail", ""))[:500], "method": request.method,
                      "path": request.url.path[:200], "source": source_of(request),
                      "user": {"name": caller.identity.name, "uid": caller.identity.uid} if caller else None,
                      "token": {"id": caller.token_id, "kind": caller.token_kind} if caller else None}
            try:
                gateway.audit.write(record)
            except Exception:  # noqa: BLE001 - the answer still goes out; an unwritable log fails every forward
                pass
        return _error(status, body)

    @app.exception_handler(SpinError)
    async def spin_error(request: Request, exc: SpinError):
        return refused(request, exc.http_status, exc.to_body(), exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        return refused(request, 422, {"error": "InvalidRequest", "detail": problems,
                                      "hint": "See /openapi.json for the schema."})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return refused(request, exc.status_code, {"error": "HTTPError", "detail": str(exc.detail),
                                                  "hint": "See /docs for the routes."})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        return refused(request, 500, {"error": "InternalError", "detail": f"{type(exc).__name__}",
                                      "hint": "This is a bug in the gateway; the administrators have the log."})

    def source_of(request: Request) -> str | None:
        return client_source(request, settings.trusted_proxies)

    registry = TokenRegistry(settings.state_dir / "tokens.json")
    app.state.tokens = registry

    def authenticate(request: Request, operation: str) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("no bearer token", hint="Run `spin login`, or set SPIN_TOKEN.")
        claims = signer.verify(token.strip())
        source = source_of(request)
        if claims.kind != "service":
            try:
                identity = gateway.identity.lookup(claims.subject)
            except NotFound:  # removed from the directory since the token was issued: the token is void
                raise AuthError(f"the token's user {claims.subject!r} is no longer known to the facility",
                                hint="Run `spin login` again, or ask the facility about your account.") from None
            request.state.caller = Caller(identity=identity, token_id=claims.token_id, token_kind="user", source=source)
            return request.state.caller
        # A facility system acts for one user per request, within its token's scope.
        record = registry.check_active(claims.token_id)
        act_as = request.headers.get("x-spin-user", "").strip()
        if not act_as:
            raise AuthError("a service token must name the user it acts for in the X-Spin-User header",
                            hint="Send X-Spin-User: <the job's user>.")
        try:
            identity = gateway.identity.lookup(act_as)
        except NotFound:
            raise AuthError(f"X-Spin-User names no user the facility knows ({act_as[:64]!r})",
                            hint="Send the job's user name as the batch system knows it.") from None
        caller = Caller(identity=identity, token_id=claims.token_id, token_kind="service", source=source)
        request.state.caller = caller
        reason = record.scope.permits(identity.name, identity.projects, operation)
        if reason:
            gateway.deny_access(caller, operation, request.url.path, Forbidden(reason,
                                hint="Ask an administrator for a token with the scope you need."))
        return caller

    def needs(operation: str):
        def dependency(request: Request) -> Caller:
            return authenticate(request, operation)
        return Depends(dependency)

    Auth = Annotated[Caller, needs("read")]
    UpAuth = Annotated[Caller, needs("up")]
    CheckAuth = Annotated[Caller, needs("check")]
    DownAuth = Annotated[Caller, needs("down")]

    def _shares_a_project(name: str, projects: frozenset[str]) -> bool:
        try:
            return bool(projects & set(gateway.identity.lookup(name).projects))
        except SpinError:  # no such user (or the directory is down): nothing shared that we can show
            return False

    def require_admin(who: Caller, what: str) -> None:
        if not who.identity.admin or who.token_kind != "user":
            gateway.deny_access(who, what, what, Forbidden(f"only administrators (with their own token) may {what}"))

    # async: liveness must answer while every pool thread is busy deciding (benchmarks/, docs/performance.md)
    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: ERRORS[503]}, tags=["health"])
    def readyz():
        checks = {"policy": gateway.policy.revision, "backend": gateway.backend.name,
                  "identity": gateway.identity.name}
        if gateway.policy.last_reload_error:
            checks["policy_reload"] = gateway.policy.last_reload_error
        return Health(status="ready", checks=checks)

    @app.post("/v1/login", response_model=TokenResponse, responses={401: ERRORS[401], 503: ERRORS[503]}, tags=["auth"])
    def login(body: LoginRequest, request: Request) -> TokenResponse:
        # Logins are audited, refused ones too (guessing shows in the log); the password never is.
        source = source_of(request)
        try:
            identity = gateway.identity.authenticate(body.username, body.password)
        except AuthError as exc:
            gateway.audit.write({"type": "login", "user": {"name": body.username}, "source": source,
                                 "decision": "deny", "violations": [{"rule": "login", "message": exc.message}]})
            raise
        token, claims = signer.issue(identity.name, ttl=settings.token_ttl)
        gateway.audit.write({"type": "login", "user": {"name": identity.name, "uid": identity.uid}, "source": source,
                             "decision": "allow", "token": {"id": claims.token_id, "kind": "user"}})
        return TokenResponse(token=token, token_id=claims.token_id, expires_at=claims.expires_at, user=identity.name)

    @app.get("/v1/whoami", response_model=WhoAmI, responses={401: ERRORS[401]}, tags=["auth"])
    def whoami(who: Auth) -> WhoAmI:
        i = who.identity
        return WhoAmI(name=i.name, uid=i.uid, gid=i.gid, groups=[g.model_dump() for g in i.groups],
                      projects=i.projects, admin=i.admin, token_kind=who.token_kind, token_id=who.token_id)

    @app.get("/v1/projects", response_model=ProjectList, responses={401: ERRORS[401]}, tags=["projects"])
    def list_projects(who: Auth, limit: int = Query(100, ge=1, le=1000),
                      cursor: str | None = Query(None, max_length=63)) -> ProjectList:
        return gateway.list_projects(who, limit, cursor)

    @app.post("/v1/projects/{project}/check", response_model=PlanResponse,
              responses={k: ERRORS[k] for k in (401, 403, 404, 422, 503)}, tags=["projects"],
              summary="Decide every call of `up` without forwarding anything (dry run)")
    def check(who: CheckAuth, body: ComposeRequest, project: str = PROJECT) -> PlanResponse:
        return gateway.up(who, project, body.compose, facility_project=body.facility_project, dry_run=True,
                          as_user=body.as_user, allow_unsupported=body.allow_unsupported)

    @app.put("/v1/projects/{project}", response_model=PlanResponse,
             responses={k: ERRORS[k] for k in (401, 403, 409, 422, 502, 503, 504)}, tags=["projects"],
             summary="Bring the project up (idempotent: the same compose twice reports `unchanged`)")
    def up(who: UpAuth, body: ComposeRequest, project: str = PROJECT, wait: bool = False,
           timeout: float = Query(120, gt=0, le=3600)) -> PlanResponse:
        return gateway.up(who, project, body.compose, facility_project=body.facility_project, wait=wait, timeout=timeout,
                          allow_unsupported=body.allow_unsupported)

    @app.delete("/v1/projects/{project}", response_model=PlanResponse,
                responses={k: ERRORS[k] for k in (401, 403, 404, 502, 503)}, tags=["projects"])
    def down(who: DownAuth, project: str = PROJECT, volumes: bool = False) -> PlanResponse:
        return gateway.down(who, project, volumes=volumes)

    @app.get("/v1/projects/{project}", response_model=StatusResponse,
             responses={k: ERRORS[k] for k in (401, 403, 404)}, tags=["projects"])
    def status(who: Auth, project: str = PROJECT, limit: int = Query(100, ge=1, le=1000),
               cursor: str | None = Query(None, max_length=63, description="next_cursor of the previous page")
               ) -> StatusResponse:
        answer = gateway.status(who, project)
        # Pages by service name, like the project list.
        services = sorted((s for s in answer.services if cursor is None or s.service > cursor), key=lambda s: s.service)
        page = services[:limit]
        return answer.model_copy(update={"services": page,
                                         "next_cursor": page[-1].service if len(services) > limit else None})

    @app.get("/v1/projects/{project}/logs", response_model=LogsResponse,
             responses={k: ERRORS[k] for k in (401, 403, 404)}, tags=["projects"])
    def logs(who: Auth, project: str = PROJECT, service: str | None = Query(None, max_length=63),
             tail: int | None = Query(None, ge=0, le=100000), since: str | None = Query(None, max_length=40)) -> LogsResponse:
        return LogsResponse(project=project, lines=gateway.logs(who, project, service, tail, since))

    @app.post("/v1/projects/{project}/convert", response_model=ConvertResponse,
              responses={k: ERRORS[k] for k in (401, 422)}, tags=["projects"],
              summary="The Kubernetes objects of a compose model, before policy")
    def convert(who: Auth, body: ComposeRequest, project: str = PROJECT) -> ConvertResponse:
        return gateway.convert(who, project, body.compose, allow_unsupported=body.allow_unsupported)

    @app.get("/v1/policy", response_model=PolicyInfo, responses={401: ERRORS[401]}, tags=["policy"])
    def policy_info(who: Auth) -> PolicyInfo:
        return PolicyInfo(revision=gateway.policy.revision, engine=gateway.policy.engine.name,
                          policy_dir=str(gateway.policy.policy_dir), last_reload_error=gateway.policy.last_reload_error)

    @app.post("/v1/policy/eval", response_model=PolicyEvalResponse,
              responses={k: ERRORS[k] for k in (401, 403, 404, 422, 503)}, tags=["policy"],
              summary="Decide Kubernetes objects with the live policy (dry run, audited; admins may name another user)")
    def policy_eval(who: CheckAuth, body: PolicyEvalRequest) -> PolicyEvalResponse:
        return evaluate_policy(gateway, who, body)

    @app.post("/v1/policy/reload", response_model=PolicyInfo, responses={k: ERRORS[k] for k in (401, 403, 500)},
              tags=["policy"])
    def policy_reload(who: Auth) -> PolicyInfo:
        require_admin(who, "reload the policy")
        gateway.policy.reload()
        return policy_info(who)

    @app.get("/v1/audit", response_model=AuditPage, tags=["audit"],
             responses={401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404], 200: {"content": {"application/x-ndjson": {
                 "schema": {"type": "string", "description": "One audit record (JSON) per line"}}}}},
             summary="Decision records; administrators see everyone's, others their own and their facility projects'. "
                     "stream=true gives JSON lines")
    def audit(who: Auth, user: str | None = Query(None, max_length=64), project: str | None = Query(None, max_length=63),
              decision: str | None = Query(None, pattern="^(allow|deny)$"), rule: str | None = Query(None, max_length=64),
              since: datetime | None = None, until: datetime | None = None,
              type: str | None = Query(None, pattern="^(decision|forward|drift|refusal|access|token|recovery|login)$"),
              limit: int = Query(100, ge=1, le=10000), stream: bool = False,
              cursor: str | None = Query(None, pattern="^[0-9a-f]{32}$",
                                         description="next_cursor of a page: the records older than that page")):
        viewer = None
        if not who.identity.admin:
            # Others read their own records and their facility projects' (the rule projects follow), and are
            # told so if they name a user outside those projects.
            mine = frozenset(who.identity.projects)
            if user not in (None, who.identity.name) and not _shares_a_project(user, mine):
                gateway.deny_access(who, "read audit", f"audit?user={user}", Forbidden(
                    f"only administrators read the audit records of users outside your facility projects; "
                    f"you ({who.identity.name}) read your own and those of {', '.join(sorted(mine)) or 'your projects'}",
                    hint="Leave out ?user=, or ask an administrator."))
            viewer = Viewer(who.identity.name, mine)
        flt = AuditFilter(user=user, project=project, decision=decision, rule=rule, since=since, until=until, type=type,
                          viewer=viewer)
        records = query(settings.audit_log, flt)
        if stream:
            return StreamingResponse((json.dumps(r, separators=(",", ":")) + "\n" for r in records),
                                     media_type="application/x-ndjson")
        # Pages run from the newest back: each holds up to `limit` records (oldest first), and
        # next_cursor names its oldest record when older ones match too.
        page: collections.deque = collections.deque(maxlen=limit)
        older = found = False
        for record in records:
            if cursor is not None and record.get("record_id") == cursor:
                found = True
                break
            older = older or len(page) == limit
            page.append(record)
        if cursor is not None and not found:
            raise NotFound(f"no audit record {cursor} among those you may read with these filters",
                           hint="Pass the next_cursor of a page fetched with the same filters.")
        return AuditPage(items=list(page), next_cursor=page[0].get("record_id") if older and page else None)

    @app.post("/v1/tokens", response_model=ServiceTokenResponse, status_code=201,
              responses={k: ERRORS[k] for k in (401, 403, 422)}, tags=["tokens"],
              summary="Administrators: create a scoped, expiring service token for a facility system")
    def create_token(who: Auth, body: ServiceTokenRequest) -> ServiceTokenResponse:
        require_admin(who, "create service tokens")
        scope = TokenScope(users=body.users, projects=body.projects, operations=body.operations)
        token, claims = signer.issue(f"service:{body.name}", kind="service", ttl=body.ttl_seconds,
                                     scopes=scope.model_dump())
        record = TokenRecord(id=claims.token_id, name=body.name, created_by=who.identity.name,
                             created_at=int(time.time()), expires_at=claims.expires_at, scope=scope)
        # On the record before it exists: a token whose creation could not be audited is never registered.
        # (Revocation goes the other way: revoked first, so an audit failure cannot keep a token alive.)
        gateway.audit.write({"type": "token", "operation": "create", "token_id": record.id, "name": body.name,
                             "user": {"name": who.identity.name, "uid": who.identity.uid},
                             "scope": scope.model_dump(), "expires_at": record.expires_at})
        registry.add(record)
        return ServiceTokenResponse(token=token, record=record)

    @app.get("/v1/tokens", response_model=list[TokenRecord], responses={k: ERRORS[k] for k in (401, 403)},
             tags=["tokens"])
    def list_tokens(who: Auth) -> list[TokenRecord]:
        require_admin(who, "list service tokens")
        return registry.list()

    @app.delete("/v1/tokens/{token_id}", response_model=TokenRecord,
                responses={k: ERRORS[k] for k in (401, 403, 404)}, tags=["tokens"])
    def revoke_token(who: Auth, token_id: str = Path(pattern="^[0-9a-f]{32}$")) -> TokenRecord:
        require_admin(who, "revoke service tokens")
        record = registry.revoke(token_id)
        gateway.audit.write({"type": "token", "operation": "revoke", "token_id": token_id,
                             "user": {"name": who.identity.name, "uid": who.identity.uid}})
        return record

    _one_error_body(app)
    return app


def build_app(settings: Settings) -> FastAPI:
    from spin_gateway.gateway_api.wiring import make_gateway

    gateway, signer = make_gateway(settings)
    return create_app(settings, gateway, signer)
