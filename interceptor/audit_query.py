"""Filters over audit records, shared by `spin audit --log` and the gateway's /v1/audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from interceptor.audit import read_records


@dataclass(frozen=True)
class Viewer:
    """A non-administrator reads the records they made and those of their facility projects (issue 5's rule)."""

    name: str
    projects: frozenset[str] = frozenset()

    def may_read(self, record: dict[str, Any]) -> bool:
        return ((record.get("user") or {}).get("name") == self.name
                or (record.get("facility_project") or None) in self.projects)


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    project: str | None = None
    decision: str | None = None  # allow | deny
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    type: str | None = None  # decision | forward | access | token | recovery
    viewer: Viewer | None = None  # None: an administrator, who reads everything

    def matches(self, record: dict[str, Any]) -> bool:
        if self.viewer is not None and not self.viewer.may_read(record):
            return False
        if self.user and (record.get("user") or {}).get("name") != self.user:
            return False
        if self.project and record.get("project") != self.project:
            return False
        if self.decision and record.get("decision") != self.decision:
            return False
        if self.type and record.get("type") != self.type:
            return False
        if self.rule and not any(v.get("rule") == self.rule for v in record.get("violations") or []):
            return False
        if self.since or self.until:
            try:
                when = datetime.fromisoformat(record["time"])
            except (KeyError, ValueError):
                return False
            if self.since and when < self.since:
                return False
            if self.until and when > self.until:
                return False
        return True


def query(path: str | Path, flt: AuditFilter) -> Iterator[dict[str, Any]]:
    """Matching records, oldest first, read lazily so a large log streams."""
    return (r for r in read_records(path) if flt.matches(r))
