"""A folder of audit chains, one per gateway replica: found, verified together, and read as one log.

Each replica writes its own chain (`audit-<replica>.jsonl`, with its rotated files and head beside it), so
no two processes on different machines ever append to one file. `spin audit verify --log FOLDER` walks
every chain (each one as `verify` walks a single log) and reports the records of each replica; one broken
chain fails the whole and is named. `spin audit --log FOLDER` and the gateway's /v1/audit read the records
of every chain merged by time.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spin_gateway.audit.log import all_files
from spin_gateway.audit.verify import Ring, VerifyReport, verify
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.keys import KeyRing

#: The files of a folder that are the current file of a chain (rotated files end in .N, heads in .head).
CHAIN_SUFFIXES = (".jsonl", ".log")


def chains(folder: str | Path) -> list[Path]:
    """The chains of a folder, by their current file's name (a rotated-away current file still counts)."""
    folder = Path(folder)
    found: set[Path] = set()
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".head"):
            found.add(entry.with_name(name[: -len(".head")]))
        elif name.endswith(CHAIN_SUFFIXES):
            found.add(entry)
        else:
            stem, _, number = name.rpartition(".")
            if number.isdigit() and stem.endswith(CHAIN_SUFFIXES):
                found.add(entry.with_name(stem))
    return sorted(p for p in found if p.name.endswith(CHAIN_SUFFIXES))


def replica_of(chain: Path) -> str:
    """audit-<replica>.jsonl names its replica; another file name is its own name."""
    stem = chain.name
    for suffix in CHAIN_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem.removeprefix("audit-")


@dataclass
class FolderReport:
    ok: bool
    records: int
    chains: dict[str, VerifyReport] = field(default_factory=dict)  # by replica

    @property
    def broken(self) -> list[str]:
        return [name for name, report in self.chains.items() if not report.ok]


def verify_folder(folder: str | Path, key: bytes | KeyRing | Ring | None = None, *,
                  pruned: bool = False) -> FolderReport:
    found = chains(folder)
    if not found:
        raise UsageError(f"no audit chains in {folder}",
                         hint="Pass the folder the replicas write to (--audit-dir), or one log file.")
    reports = {replica_of(chain): verify(chain, key, pruned=pruned) for chain in found}
    return FolderReport(all(r.ok for r in reports.values()), sum(r.records for r in reports.values()), reports)


def _records(file_list: list[Path]) -> Iterator[dict[str, Any]]:
    for file in file_list:
        with file.open("rb") as fh:
            for raw in fh:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # a torn line: verify reports it
                if isinstance(record, dict):
                    yield record


def merged_records(folder: str | Path) -> Iterator[dict[str, Any]]:
    """Every record of every chain, oldest first across replicas (ISO UTC times sort as text)."""
    streams = [_records(all_files(chain)) for chain in chains(folder)]
    return heapq.merge(*streams, key=lambda r: str(r.get("time", "")))
