"""The data that flows along the one path: Identity, Call, Plan, Decision.

Frozen pydantic models, stdlib and pydantic imports only, so that policy/,
translate/ and the backends can share them without importing each other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: CONNECT is `spin exec`: a command run in a running container (Kubernetes admits pods/exec as CONNECT).
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Group(_Frozen):
    name: str
    gid: int


class Identity(_Frozen):
    """Who asks, as the facility knows them."""

    name: str
    uid: int
    gid: int
    groups: list[Group] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)
    admin: bool = False

    @property
    def gids(self) -> list[int]:
        return sorted({self.gid, *(g.gid for g in self.groups)})

    def policy_view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uid": self.uid,
            "gid": self.gid,
            "groups": [g.model_dump() for g in self.groups],
            "projects": list(self.projects),
            "admin": self.admin,
        }


class Notice(_Frozen):
    """A compose key that was approximated or ignored, as data, not a log line."""

    path: str
    action: Literal["ignored", "approximated", "refused", "kept"]
    reason: str


class Call(_Frozen):
    """One orchestrator API request of a plan."""

    id: str
    operation: Operation
    object: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.object.get("kind", "")

    @property
    def name(self) -> str:
        return self.object.get("metadata", {}).get("name", "")

    @property
    def namespace(self) -> str:
        return self.object.get("metadata", {}).get("namespace", "")


class ExecResult(_Frozen):
    """What `spin exec` ran: its exit code and its output (stdout and stderr, bounded)."""

    service: str
    exit_code: int
    output: str = ""


class Plan(_Frozen):
    """The ordered calls that realise (or remove) one compose project."""

    project: str
    namespace: str
    owner: str
    facility_project: str
    calls: list[Call]
    notices: list[Notice] = Field(default_factory=list)
    #: Services the project runs that the compose file no longer names, left running (compose's orphans: an up
    #: without --remove-orphans keeps them, with a notice).
    keep_services: list[str] = Field(default_factory=list)
    #: `up --force-recreate`: replace the workloads' pods even when their decided objects did not change.
    recreate: bool = False


class Violation(_Frozen):
    rule: str
    message: str
    path: str = ""


class Decision(_Frozen):
    call_id: str
    operation: Operation
    kind: str
    name: str
    allowed: bool
    violations: list[Violation] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    patches: list[dict[str, Any]] = Field(default_factory=list)
    revision: str
    engine: str
    duration_ms: float
    error: str | None = None
    #: Answered from the decision cache: the same revision decided this very input before.
    cached: bool = False
    #: sha256 of (revision, site data, input) when the decision cache is on: a cached decision names
    #: the input it answered, and the same hash finds the decision that was evaluated for it.
    input_hash: str | None = None


#: What a backend did with one call.
Action = Literal["created", "configured", "unchanged", "deleted", "absent", "failed", "skipped", "enforced"]


class CallResult(_Frozen):
    """What the backend did with one approved call."""

    call_id: str
    kind: str
    name: str
    action: Action
    message: str = ""


class ServiceStatus(_Frozen):
    service: str
    kind: str
    ready: int
    desired: int
    state: str
    ports: list[str] = Field(default_factory=list)
    restarts: int = 0
    age_seconds: float | None = None
    message: str = ""
    #: What the backend read back from what runs, compared with the decision: "as decided", "drift: ...",
    #: or "" where the backend does not read back.
    verified: str = ""


__all__ = [
    "Call", "CallResult", "Decision", "ExecResult", "Group", "Identity", "Notice", "Operation", "Plan",
    "ServiceStatus", "Violation",
]
