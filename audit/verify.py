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
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spin_gateway.audit.log import (
    GENESIS,
    all_files,
    head_mac,
    head_path,
    keys_for,
    last_line,
    line_hash,
    read_head_slots,
    record_mac,
    render,
)
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.keys import KeyRing

#: The keys verify checks with, by key id (a ring's, or one bare key under its fingerprint).
Ring = dict[str, bytes]


def _ring_of(key: bytes | KeyRing | Ring | None) -> Ring | None:
    if key is None:
        return None
    if isinstance(key, bytes):
        return KeyRing.single(key).keys
    if isinstance(key, KeyRing):
        return dict(key.keys)
    return dict(key)


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


def _mac_ok(ring: Ring, body: bytes, mac: object, key_id: object = None) -> bool:
    keys = keys_for(ring, key_id)
    if not isinstance(mac, str) or not keys:
        return False
    return any(_mac_ok_with(key, body, mac) for key in keys)


def _mac_ok_with(key: bytes, body: bytes, mac: str) -> bool:
    # Records are rendered with sorted keys, so the line without its mac is the line with the one
    # `"mac":"…",` member cut out; that saves re-rendering every record. Anything unusual takes the slow way.
    member = b'"mac":"' + mac.encode() + b'",'
    if body.count(member) == 1:
        return hmac.compare_digest(mac, record_mac(key, body.replace(member, b"", 1)))
    record = json.loads(body)
    record.pop("mac", None)
    return hmac.compare_digest(mac, record_mac(key, render(record)))


def _read_head(path: Path, key: Ring | None) -> tuple[dict | None, str]:
    """The newest head slot that is whole (and, with the key, carries a valid HMAC)."""
    try:
        data = head_path(path).read_bytes()
    except FileNotFoundError:
        return None, "missing"
    slots = read_head_slots(data)
    if not slots:
        return None, "missing" if not data.strip() else "unreadable"
    if key is not None:
        slots = [s for s in slots if isinstance(s.get("mac"), str)
                 and any(hmac.compare_digest(s["mac"], head_mac(k, s)) for k in keys_for(key, s.get("key_id")))]
        if not slots:
            return None, "forged"
    return max(slots, key=lambda s: s["seq"]), "ok"


@dataclass
class _FileResult:
    """One file walked from the `prev` its first record must carry."""

    count: int = 0
    last: dict = field(default_factory=dict)  # file, line, record_id of its last record
    failure: dict | None = None  # problem, file, line, record_id
    head_line: int = 0  # the line whose hash the head names, 0 if none
    after_head: int = 0


def _walk(file: Path, prev: str, key: Ring | None, head_hash: str | None) -> _FileResult:
    out = _FileResult()
    with file.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            body = raw.rstrip(b"\n")
            where = dict(file=str(file), line=number, record_id="")
            try:
                record = json.loads(body.decode())  # str skips json's encoding detection
            except ValueError:
                out.failure = dict(problem="the line is not a JSON record (torn or edited)", **where)
                return out
            if not isinstance(record, dict):
                out.failure = dict(problem="the line is not a JSON record (edited)", **where)
                return out
            where["record_id"] = str(record.get("record_id", ""))
            if record.get("prev") != prev:
                out.failure = dict(problem="the chain breaks here: this record does not follow the one before it "
                                           "(a record was changed, removed, inserted or reordered at or before "
                                           "this line)", **where)
                return out
            if record.get("type") == "gap":  # the gateway itself found records missing when it started
                out.failure = dict(problem=f"the gateway found, when it started: {record.get('detail')}"
                                           + (f" (the head named record {record['head_record_id']}, line "
                                              f"{record.get('head_line')} of {record.get('head_file')})"
                                              if record.get("head_record_id") else ""), **where)
                if key is None or _mac_ok(key, body, record.get("mac"), record.get("key_id")):
                    return out
            if key is not None and not _mac_ok(key, body, record.get("mac"), record.get("key_id")):
                kid = record.get("key_id")
                if kid is not None and not keys_for(key, kid):
                    out.failure = dict(problem=f"the record names audit key id {str(kid)[:64]!r}, which is not among "
                                               "the keys given to verify (keep every retired audit key in the ring "
                                               "while its records are kept)", **where)
                else:
                    out.failure = dict(problem="the record's HMAC does not match: it was written or changed without "
                                               "the gateway's key", **where)
                return out
            prev = line_hash(body)
            out.count += 1
            out.last = where
            if out.head_line:
                out.after_head += 1
            elif prev == head_hash:
                out.head_line = number
    return out


def _walk_args(args: tuple) -> _FileResult:
    return _walk(*args)


def _walk_all(files: list[Path], key: Ring | None, head_hash: str | None,
              first: str = GENESIS) -> Iterator[_FileResult]:
    """Each file starts from the hash of the previous file's last line, so files are walked independently:
    in parallel (one process per core) when there are several. Results come back in file order."""
    lasts = [last_line(f) for f in files[:-1]]
    starts = [first] + [line_hash(last) if last else GENESIS for last in lasts]
    jobs = [(f, start, key, head_hash) for f, start in zip(files, starts, strict=False)]  # no files: no jobs
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2:
        yield from map(_walk_args, jobs)
        return
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            yield from pool.map(_walk_args, jobs)
        finally:
            pool.shutdown(cancel_futures=True)


def _first_prev(file: Path) -> str:
    with file.open("rb") as fh:
        try:
            prev = json.loads(fh.readline().decode()).get("prev")
        except (ValueError, AttributeError):
            return GENESIS  # not a record: the walk reports it
    return prev if isinstance(prev, str) else GENESIS


def verify(path: str | Path, key: bytes | KeyRing | Ring | None = None, *, pruned: bool = False) -> VerifyReport:
    """Walk the chain; with the gateway's audit key, also check every record's HMAC and the head file's.

    The chain alone finds any edit followed by a later record; the HMAC also
    finds an edited last record, and a rewritten chain by anyone without the key;
    the head finds records cut off the end.
    """
    path = Path(path)
    ring = _ring_of(key)
    files = all_files(path)
    names = [str(f) for f in files]
    head, head_state = _read_head(path, ring)
    if not files and head is None and head_state == "missing" and path.with_name(path.name + ".lock").exists():
        # The writer's lock file outlives its log: a log that was written and is now gone, head and all.
        return VerifyReport(0, [], False, "the log and its head file are gone, but the gateway's lock file beside "
                            "them shows a log was written here", file=str(path), head=head_state)
    if not files and head is None:
        raise UsageError(f"no audit log at {path}", hint="Pass the gateway's --audit-log file with --log.")
    count = 0
    seen_head = False
    after_head = 0
    last_where: dict = {}

    def broken(problem: str, **where) -> VerifyReport:
        return VerifyReport(count, names, False, problem, head=head_state, **where)

    # Retention: with `pruned`, the oldest files may have been archived or removed on purpose, so the
    # chain may start mid-way; every link from there on is still checked.
    first = _first_prev(files[0]) if pruned and files else GENESIS
    for result in _walk_all(files, ring, head["hash"] if head else None, first):
        if result.failure:
            count += result.failure["line"] - 1
            return broken(**result.failure)
        count += result.count
        last_where = result.last or last_where
        if seen_head:
            after_head += result.count
        elif result.head_line:
            seen_head, after_head = True, result.after_head
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
    if head_state == "missing" and ring is not None and count:
        return broken("the head file is missing, so records cut off the end cannot be ruled out",
                      file=str(head_path(path)), line=1)
    if first != GENESIS:
        report.notes.append(f"the chain starts mid-way at {files[0]}: older records were archived or removed "
                            "(--pruned), so they are not checked here")
    if after_head:
        # The head is replaced after every fsynced write but not fsynced itself: a power cut can leave it behind.
        report.notes.append(f"{after_head} record(s) after the one the head file names (a power cut between the "
                            "log's fsync and the head's update leaves this; the records themselves verify)")
    if last_where:
        report.file, report.line, report.record_id = last_where["file"], last_where["line"], last_where["record_id"]
    return report
