"""Filters over audit records, shared by `spin audit --log` and the gateway's /v1/audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from spin_gateway.audit.log import all_files


@dataclass(frozen=True)
class Viewer:
    """A non-administrator reads the records they made and those of their facility projects (issue 5's rule)."""

    name: str
    projects: frozenset[str] = frozenset()
    own: bool = True  # False for a service token scoped to projects: only those projects' records

    def may_read(self, record: dict[str, Any]) -> bool:
        return ((self.own and (record.get("user") or {}).get("name") == self.name)
                or (record.get("facility_project") or None) in self.projects)


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    project: str | None = None
    decision: str | None = None  # allow | deny
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    type: str | None = None  # decision | forward | drift | access | token | recovery
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


def _needles(flt: AuditFilter) -> list[bytes]:
    """Bytes every matching line must contain, as the writer renders it (sorted keys, compact JSON).

    Only a cheap first sieve: a line without them cannot match, so it is not parsed; a line with them is
    parsed and matched properly. Most queries name a user, project, type or decision, and skip most lines.
    """
    def member(key: str, value: str) -> bytes:
        return f'"{key}":{json.dumps(value)}'.encode()

    needles = []
    if flt.user:
        needles.append(member("name", flt.user))
    if flt.project:
        needles.append(member("project", flt.project))
    if flt.decision:
        needles.append(member("decision", flt.decision))
    if flt.type:
        needles.append(member("type", flt.type))
    if flt.rule:
        needles.append(member("rule", flt.rule))
    return needles


def query(path: str | Path, flt: AuditFilter) -> Iterator[dict[str, Any]]:
    """Matching records, oldest first, read lazily so a large log streams.

    `path` is one log, or a folder of chains (one per replica, audit/chains.py): their records merged by time.
    """
    path = Path(path)
    if path.is_dir():
        import heapq

        from spin_gateway.audit.chains import chains

        streams = [_query_files(all_files(chain), flt) for chain in chains(path)]
        yield from heapq.merge(*streams, key=lambda r: str(r.get("time", "")))
        return
    yield from _query_files(all_files(path), flt)


def _query_files(files: list[Path], flt: AuditFilter) -> Iterator[dict[str, Any]]:
    needles = _needles(flt)
    for file in files:
        with file.open("rb") as fh:
            for raw in fh:
                if not all(n in raw for n in needles):
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # a torn line: verify reports it
                if isinstance(record, dict) and flt.matches(record):
                    yield record
