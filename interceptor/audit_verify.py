"""`spin audit verify`: walk the hash chain across rotated files and name the first place it breaks."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from interceptor.audit import GENESIS, all_files, line_hash, record_mac, render


@dataclass
class VerifyReport:
    records: int
    files: list[str]
    ok: bool
    problem: str = ""
    file: str = ""
    line: int = 0


def verify(path: str | Path, key: bytes | None = None) -> VerifyReport:
    """Walk the chain; with the gateway's audit key, also check every record's HMAC.

    The chain alone finds any edit followed by a later record; the HMAC also
    finds an edited last record, and a rewritten chain by anyone without the key.
    """
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
                if key is not None:
                    mac = record.pop("mac", None)
                    if mac is None or not hmac.compare_digest(mac, record_mac(key, render(record))):
                        return VerifyReport(count, [str(f) for f in files], False,
                                            "the record's HMAC does not match: it was written or changed without the gateway's key",
                                            **where)
                prev = line_hash(body)
                count += 1
    return VerifyReport(count, [str(f) for f in files], True)
