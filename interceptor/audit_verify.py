"""`spin audit verify`: walk the hash chain across rotated files and name the first place it breaks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from interceptor.audit import GENESIS, all_files, line_hash


@dataclass
class VerifyReport:
    records: int
    files: list[str]
    ok: bool
    problem: str = ""
    file: str = ""
    line: int = 0


def verify(path: str | Path) -> VerifyReport:
    files = all_files(Path(path))
    prev = GENESIS
    count = 0
    for file in files:
        with file.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                body = raw.rstrip(b"\n")
                where = dict(file=str(file), line=number)
                try:
                    record = json.loads(body)
                except ValueError:
                    return VerifyReport(count, [str(f) for f in files], False, "the line is not a JSON record (torn or edited)", **where)
                if record.get("prev") != prev:
                    return VerifyReport(count, [str(f) for f in files], False,
                                        "the chain breaks here: this record does not follow the one before it "
                                        "(a record was changed, removed, inserted or reordered at or before this line)",
                                        **where)
                prev = line_hash(body)
                count += 1
    return VerifyReport(count, [str(f) for f in files], True)
