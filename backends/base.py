"""The small protocol every backend implements.

A backend receives only approved, patched objects (the interceptor has
decided every call of the plan before any reaches it). It must be
idempotent: applying the same objects twice reports "unchanged".
Native errors are wrapped at the backend's edge into ForwardError subclasses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from spin_gateway.vocabulary.types import Call, CallResult, ExecResult, ServiceStatus

#: What `spin stop/start/restart` ask of a backend: compose's verbs, on the project's running workloads.
LIFECYCLE_ACTIONS = ("stop", "start", "restart")
#: The most output `spin exec` carries back (it is not a terminal: an interactive shell needs the cluster's tools).
MAX_EXEC_OUTPUT = 1 << 20


@dataclass(frozen=True)
class ProjectRef:
    """Which project a backend call is about; `owner` and `facility_project` label what it creates."""

    project: str
    namespace: str
    owner: str = ""
    facility_project: str = ""
    #: apply: the objects of these services are not pruned though the plan no longer names them (orphans kept).
    keep_services: frozenset[str] = frozenset()
    #: apply: replace the pods of every workload in the plan, changed or not (`up --force-recreate`).
    recreate: bool = False


@dataclass
class ProjectInfo:
    project: str
    namespace: str
    owner: str
    facility_project: str
    services: list[str] = field(default_factory=list)


class Backend(Protocol):
    name: str

    def existing(self, ref: ProjectRef) -> ProjectInfo | None:
        """The project as the backend knows it (owner labels), or None."""

    def existing_objects(self, ref: ProjectRef) -> set[tuple[str, str]]:
        """(kind, name) of the objects this project has now: decides CREATE vs UPDATE."""

    def apply(self, ref: ProjectRef, calls: list[Call]) -> list[CallResult]:
        """Make the backend hold exactly these objects for the project (create, update, prune)."""

    def delete(self, ref: ProjectRef, calls: list[Call], volumes: bool) -> list[CallResult]:
        """Remove the project's objects named by the (approved) DELETE calls."""

    def wait(self, ref: ProjectRef, timeout: float) -> list[ServiceStatus]:
        """Block until every service is ready or raise WaitTimeout saying why not."""

    def status(self, ref: ProjectRef) -> list[ServiceStatus]:
        """One line per service: ready/desired, state, ports, restarts, age."""

    def logs(self, ref: ProjectRef, service: str | None, tail: int | None, since: str | None,
             timestamps: bool = False) -> Iterator[str]:
        """Log lines of the project's (or one service's) containers; with timestamps, each line's RFC 3339 time
        first (after the `service | ` prefix), as `docker compose logs -t` shows them."""

    def lifecycle(self, ref: ProjectRef, action: str, services: list[str]) -> list[CallResult]:
        """stop, start or restart the services' running workloads (every service if none is named); what runs
        stays exactly what was decided. A backend that cannot raises the reason (UsageError)."""

    def exec(self, ref: ProjectRef, service: str, command: list[str], timeout: float) -> ExecResult:
        """Run an approved command in the service's (first) running container, without a terminal."""

    def list_projects(self) -> list[ProjectInfo]:
        """Every project this backend holds."""
