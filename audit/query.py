"""Filters over audit records, shared by `spin audit --log` and the gateway's /v1/audit.

Times: a filter's since/until may be given without a zone; they are read as the local time of the
machine that parses them (the CLI turns `--since` into an explicit time with its zone before it asks
the gateway, so "local" means the officer's, not the gateway's). Comparing such a time with the
records' zoned times raised TypeError before.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from spin_gateway.audit.log import all_files
from spin_gateway.vocabulary.errors import NotFound, UsageError
from spin_gateway.vocabulary.units import parse_duration

_DAYS = re.compile(r"^(\d+)\s*(d|w)$")
WHEN_HELP = ("a date (2026-12-02, local midnight), a date and time with or without a zone (2026-12-02T14:00, "
             "2026-12-02 14:00+01:00; without a zone: local time), a duration back from now (90s, 30m, 1h, 2h30m, 7d, "
             "1w), today or yesterday (local midnight)")


def aware(when: datetime) -> datetime:
    """A time with a zone: one without is this machine's local time."""
    return when if when.tzinfo is not None else when.astimezone()


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """What `spin audit --since/--until` accept (WHEN_HELP), as a time with a zone; UsageError otherwise."""
    value = text.strip()
    now = aware(now or datetime.now().astimezone())
    word = value.lower()
    if word in ("now",):
        return now
    if word in ("today", "yesterday"):
        day = now.astimezone().date() - timedelta(days=1 if word == "yesterday" else 0)
        return aware(datetime.combine(day, time()))
    m = _DAYS.match(word)
    if m:
        return now - timedelta(days=int(m.group(1)) * (7 if m.group(2) == "w" else 1))
    ns = parse_duration(value) if value and value[0].isdigit() and not value[-1].isdigit() else None
    if ns is not None and ns >= 0:
        return now - timedelta(microseconds=ns // 1000)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return aware(datetime.combine(date.fromisoformat(value), time()))
        return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"{text!r} is not a time", hint=f"Give {WHEN_HELP}.") from None


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
    request_id: str | None = None

    def __post_init__(self) -> None:
        # The records' times carry a zone; a bound without one is local time (comparing the two raised TypeError).
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, aware(value))

    def matches(self, record: dict[str, Any]) -> bool:
        if self.viewer is not None and not self.viewer.may_read(record):
            return False
        if self.request_id and record.get("request_id") != self.request_id:
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
                when = aware(datetime.fromisoformat(record["time"]))
            except (KeyError, TypeError, ValueError):
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
    if flt.request_id:
        needles.append(member("request_id", flt.request_id))
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


def page(records: Iterable[dict[str, Any]], limit: int, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` records (oldest first) older than the record `cursor` names, and the cursor of the next
    page (the page's oldest record) when older records match too; None when this page is the last."""
    kept: collections.deque = collections.deque(maxlen=limit)
    older = found = False
    for record in records:
        if cursor is not None and record.get("record_id") == cursor:
            found = True
            break
        older = older or len(kept) == limit
        kept.append(record)
    if cursor is not None and not found:
        raise NotFound(f"no audit record {cursor} among those you may read with these filters",
                       hint="Pass the next_cursor of a page fetched with the same filters.")
    return list(kept), (kept[0].get("record_id") if older and kept else None)
