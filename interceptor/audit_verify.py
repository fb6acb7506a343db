"""`spin audit verify`: walk the hash chain across rotated files and name the first place it breaks.

One pass, streaming, constant memory: each line is parsed once, hashed once
and (with the key) HMAC'd once, so a million records take seconds, not minutes.

What is found, and how:
- a changed, inserted, removed or reordered record: the next record's `prev`
  no longer matches (the chain); with the key, also the record's own HMAC;
- records cut off the end (truncation), or the newest file deleted: the head
  file names the last record written, and the walk never meets it;
- a rewritten chain or head: without the key, their HMACs do not match.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

from interceptor.audit import GENESIS, all_files, head_mac, head_path, line_hash, read_head_slots, record_mac, render
from interceptor.errors import UsageError


@dataclass
class VerifyReport:
    records: int
    files: list[str]
    ok: bool
    problem: str = ""
    file: str = ""
    line: int = 0
    record_id: str = ""
    head: str = ""  # what the head file said, or why it was not checked
    notes: list[str] = field(default_factory=list)


def _mac_ok(key: bytes, body: bytes, mac: object) -> bool:
    if not isinstance(mac, str):
        return False
    # Records are rendered with sorted keys, so the line without its mac is the line with the one
    # `"mac":"…",` member cut out; that saves re-rendering every record. Anything unusual takes the slow way.
    member = b'"mac":"' + mac.encode() + b'",'
    if body.count(member) == 1:
        return hmac.compare_digest(mac, record_mac(key, body.replace(member, b"", 1)))
    record = json.loads(body)
    record.pop("mac", None)
    return hmac.compare_digest(mac, record_mac(key, render(record)))


def _read_head(path: Path, key: bytes | None) -> tuple[dict | None, str]:
    """The newest head slot that is whole (and, with the key, carries a valid HMAC)."""
    try:
        data = head_path(path).read_bytes()
    except FileNotFoundError:
        return None, "missing"
    slots = read_head_slots(data)
    if not slots:
        return None, "missing" if not data.strip() else "unreadable"
    if key is not None:
        slots = [s for s in slots if isinstance(s.get("mac"), str) and hmac.compare_digest(s["mac"], head_mac(key, s))]
        if not slots:
            return None, "forged"
    return max(slots, key=lambda s: s["seq"]), "ok"


def verify(path: str | Path, key: bytes | None = None) -> VerifyReport:
    """Walk the chain; with the gateway's audit key, also check every record's HMAC and the head file's.

    The chain alone finds any edit followed by a later record; the HMAC also
    finds an edited last record, and a rewritten chain by anyone without the key;
    the head finds records cut off the end.
    """
    path = Path(path)
    files = all_files(path)
    names = [str(f) for f in files]
    head, head_state = _read_head(path, key)
    if not files and head is None:
        raise UsageError(f"no audit log at {path}", hint="Pass the gateway's --audit-log file with --log.")
    prev = GENESIS
    count = 0
    seen_head = False
    after_head = 0
    last_where: dict = {}

    def broken(problem: str, **where) -> VerifyReport:
        return VerifyReport(count, names, False, problem, head=head_state, **where)

    for file in files:
        with file.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                body = raw.rstrip(b"\n")
                where = dict(file=str(file), line=number)
                try:
                    record = json.loads(body)
                except ValueError:
                    return broken("the line is not a JSON record (torn or edited)", **where)
                if not isinstance(record, dict):
                    return broken("the line is not a JSON record (edited)", **where)
                where["record_id"] = str(record.get("record_id", ""))
                if record.get("prev") != prev:
                    return broken("the chain breaks here: this record does not follow the one before it "
                                  "(a record was changed, removed, inserted or reordered at or before this line)",
                                  **where)
                if key is not None and not _mac_ok(key, body, record.get("mac")):
                    return broken("the record's HMAC does not match: it was written or changed without the "
                                  "gateway's key", **where)
                prev = line_hash(body)
                count += 1
                last_where = where
                if seen_head:
                    after_head += 1
                elif head is not None and prev == head["hash"]:
                    seen_head = True
    report = VerifyReport(count, names, True, head=head_state)
    if head is not None and not seen_head and last_where and last_where["record_id"] == head.get("record_id"):
        return broken("the last record was changed after it was written: its hash is not the one the head file "
                      "names", **last_where)
    if head is not None and not seen_head:
        return broken(f"the log ends before the last record the gateway wrote (record {head.get('record_id')}, "
                      f"line {head.get('line')} of {head.get('file')}): records were cut off the end or a file "
                      "was removed", file=str(head_path(path)), line=1, record_id=str(head.get("record_id", "")))
    if head_state == "forged":
        return broken("the head file's HMAC does not match: it was written without the gateway's key "
                      "(truncation cannot be ruled out)", file=str(head_path(path)), line=1)
    if head_state == "unreadable":
        return broken("the head file is not a JSON head record (edited or torn)", file=str(head_path(path)), line=1)
    if head_state == "missing" and key is not None and count:
        return broken("the head file is missing, so records cut off the end cannot be ruled out",
                      file=str(head_path(path)), line=1)
    if after_head:
        # The head is replaced after every fsynced write but not fsynced itself: a power cut can leave it behind.
        report.notes.append(f"{after_head} record(s) after the one the head file names (a power cut between the "
                            "log's fsync and the head's update leaves this; the records themselves verify)")
    if last_where:
        report.file, report.line, report.record_id = last_where["file"], last_where["line"], last_where["record_id"]
    return report
