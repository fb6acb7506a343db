"""The REST API's request and response bodies: the contract facility integrators build on."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spin_gateway.gateway_api.auth.service_tokens import TokenRecord
from spin_gateway.vocabulary.types import CallResult, Decision, Notice, ServiceStatus


class ErrorBody(BaseModel):
    """The one error body of every route."""

    error: str = Field(description="Error class, e.g. PolicyDenied, AuthError")
    detail: str = Field(description="What went wrong, naming the file, service and field where it can")
    hint: str = Field(description="What to do next")
    data: dict[str, Any] | None = Field(default=None, description="Structured details, e.g. the decisions of a refused plan")


class ComposeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"compose": {
        "name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35",
                                             "command": ["httpd", "-f", "-p", "8080"]}}}}]})
    compose: dict[str, Any] = Field(description="The canonical compose model (`spin config --format json`)")
    facility_project: str | None = Field(default=None, max_length=63,
                                         description="Facility project (group) the services belong to; default: the caller's first project")
    as_user: str | None = Field(default=None, max_length=64, description="Admins only: decide as this user (dry runs)")
    allow_unsupported: bool = Field(default=False, description="Translate what can be translated and report the compose "
                                    "keys that cannot as notices, instead of refusing the request")


class PlanResponse(BaseModel):
    project: str
    namespace: str
    facility_project: str
    allowed: bool
    forwarded: bool
    dry_run: bool
    policy_revision: str
    status: str = Field(description="created | configured | unchanged | denied | checked | removed")
    decisions: list[Decision]
    results: list[CallResult] = []
    notices: list[Notice] = []
    services: list[ServiceStatus] = []
    objects: list[dict[str, Any]] = Field(default_factory=list, description="The approved (patched) objects")
    request_id: str
    lock_waited: float = Field(default=0, description="Seconds this request waited for another `up` or `down` of "
                                                      "the same project (on any replica) to finish")


class LifecycleResponse(BaseModel):
    project: str
    action: str = Field(description="stop | start | restart")
    results: list[CallResult]
    request_id: str


class ExecRequest(BaseModel):
    service: str = Field(max_length=63)
    command: list[str] = Field(min_length=1, max_length=256, description="The command and its arguments (no shell)")
    timeout: float = Field(default=60, gt=0, le=3600)


class ExecResponse(BaseModel):
    project: str
    service: str
    exit_code: int
    output: str
    decisions: list[Decision]
    policy_revision: str
    request_id: str


class ConvertResponse(BaseModel):
    project: str
    namespace: str
    objects: list[dict[str, Any]]
    notices: list[Notice]


class StatusResponse(BaseModel):
    project: str
    namespace: str
    owner: str
    facility_project: str
    services: list[ServiceStatus]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the services after this page")


class ProjectSummary(BaseModel):
    project: str
    namespace: str
    owner: str
    facility_project: str
    services: list[str]


class ProjectList(BaseModel):
    items: list[ProjectSummary]
    next_cursor: str | None = None


class LogsResponse(BaseModel):
    project: str
    lines: list[str]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    token: str
    token_id: str
    expires_at: int
    user: str


Operation = Literal["up", "down", "check", "read"]


class ServiceTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    users: list[str] = Field(default_factory=list, max_length=1000)
    projects: list[str] = Field(default_factory=list, max_length=1000)
    operations: list[Operation] = Field(default_factory=lambda: list(get_args(Operation)))
    powers: list[Literal["admin"]] = Field(
        default_factory=list, max_length=1,
        description="Named powers beyond the acting user's own. Default none: acting for an administrator is acting "
                    "as a plain member of the scope's projects; `admin` keeps that administrator's reach (any "
                    "project, everyone's audit records), never token creation, policy reload or deciding as another "
                    "user")
    ttl_seconds: int = Field(default=30 * 86400, ge=60, le=366 * 86400)

    @model_validator(mode="after")
    def _acts_for_someone(self) -> ServiceTokenRequest:
        # A 422 like every other invalid body (a UsageError here was an undocumented 400).
        if not self.users and not self.projects:
            raise ValueError("a service token needs at least one user or project it may act for")
        return self


class ServiceTokenResponse(BaseModel):
    token: str = Field(description="Shown once: the gateway keeps only its id")
    record: TokenRecord


class LogoutResponse(BaseModel):
    token_id: str = Field(description="The token revoked: refused by every replica from now on")
    user: str


class UserRevocation(BaseModel):
    user: str
    revoked_before: int = Field(description="Every token of the user issued at or before this second (Unix time) "
                                            "is refused; the user logs in again for a new one")


class WhoAmI(BaseModel):
    name: str
    uid: int
    gid: int
    groups: list[dict[str, Any]]
    projects: list[str]
    admin: bool
    token_kind: str
    token_id: str


class PolicyInfo(BaseModel):
    revision: str = Field(description="The live revision: a digest of every module, test and the site data")
    engine: str
    policy_dir: str
    loaded_at: str | None = Field(default=None, description="When the live revision started deciding (UTC)")
    loaded_by: str | None = Field(default=None, description="What put it there: start, watcher, or request by <user>")
    checked_at: str | None = Field(default=None, description="When the folder was last compared with it (UTC)")
    refused_at: str | None = Field(default=None, description="When the refused candidate was first refused (UTC)")
    last_reload_error: str | None = Field(default=None, description="Why the last candidate revision was refused "
                                                                       "(the live revision keeps deciding)")
    refused_candidate: str | None = Field(default=None, description="The refused candidate's revision")
    decision_cache: dict[str, Any] = Field(default_factory=dict, description=(
        "Whether identical calls are answered from the decision cache: enabled, with entries, size, hits and "
        "misses; or not, and the reason (e.g. the library calls a non-deterministic built-in)"))


class AuditPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(default=None, description="More records match: pass it as cursor= for the next "
                                                                "(older) page; null on the last page")


class DecidedObject(BaseModel):
    call_id: str | None
    kind: str | None
    name: str | None
    decision: str | None
    digest: str
    object: Any = Field(description="The object as decided (patched), secrets redacted; null if no longer kept")


class AuditRequest(BaseModel):
    """`spin audit show REQUEST`: one request's records and the objects they name."""

    request_id: str
    records: list[dict[str, Any]]
    model_digest: str | None = Field(description="SHA-256 of the submitted compose model (up and check)")
    model: Any = Field(default=None, description="The submitted compose model, secrets redacted")
    objects: list[DecidedObject]
    missing: list[str] = Field(default_factory=list, description="Digests no longer kept (pruned with their records)")


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
