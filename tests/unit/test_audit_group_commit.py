"""Audit group commit (issue 18): concurrent writers share fsyncs, and the promise holds for each of them.

The promise: write_many returns only once its records are on disk. Measured from outside: every fsync
that succeeds notes how many bytes of the file it covered, and every writer, the moment write_many
returns, checks that its own lines end within what a finished fsync covered. A failing fsync fails the
writers it was to cover, the log keeps one verifiable chain, and writing goes on afterwards.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
import uuid

from spin_gateway.audit import log as audit_log
from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.vocabulary.errors import AuditError

KEY = b"group-commit-test-key-0123456789abcdef"


class _Disk:
    """os.fsync as the log calls it, slowed to a real disk's pace and watched: how often, and how far."""

    def __init__(self, fail_on: set[int] | None = None):
        self.calls = 0
        self.covered = 0  # bytes of the log the last successful fsync covered
        self.fail_on = fail_on or set()
        self._lock = threading.Lock()
        self._real = os.fsync

    def __call__(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        with self._lock:
            self.calls += 1
            call = self.calls
        time.sleep(0.004)
        if call in self.fail_on:
            raise OSError(errno.EIO, "Input/output error")
        self._real(fd)
        with self._lock:
            self.covered = max(self.covered, size)


def _writers(log: AuditLog, disk: _Disk, threads: int, batches: int):
    """Each thread writes `batches` requests of three records: what returned (and the bytes a finished fsync
    had covered at that moment), and what was refused."""
    done, refused = [], []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for b in range(batches):
            request = f"{t:03d}-{b:03d}-{uuid.uuid4().hex[:6]}"
            try:
                written = log.write_many([{"type": "decision", "request_id": request, "call_id": str(i)}
                                          for i in range(3)])
            except AuditError:
                refused.append(request)
                continue
            covered = disk.covered  # read at once: the promise is about the moment write_many returns
            done.append((request, [r["record_id"] for r in written], covered))

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return done, refused


def _line_ends(path) -> dict[str, int]:
    ends, offset = {}, 0
    with open(path, "rb") as fh:
        for raw in fh:
            offset += len(raw)
            ends[json.loads(raw)["record_id"]] = offset
    return ends


def test_concurrent_writers_share_fsyncs_and_each_returns_only_once_its_records_are_on_disk(tmp_path, monkeypatch):
    disk = _Disk()
    monkeypatch.setattr(audit_log.os, "fsync", disk)
    log = AuditLog(tmp_path / "audit.log", key=KEY)
    done, refused = _writers(log, disk, threads=40, batches=10)
    log.close()

    assert not refused and len(done) == 400
    ends = _line_ends(tmp_path / "audit.log")
    for _request, ids, covered in done:
        assert all(ends[i] <= covered for i in ids), "write_many returned before an fsync covered its records"
    records = [r for r in read_records(tmp_path / "audit.log") if r["type"] == "decision"]
    assert len(records) == 1200
    assert {r["request_id"] for r in records} == {d[0] for d in done}
    report = verify(tmp_path / "audit.log", KEY)
    assert report.ok, report
    assert disk.calls < len(done) / 2, f"{disk.calls} fsyncs for {len(done)} writes: nothing was shared"


def test_a_failed_fsync_fails_the_writers_it_covered_and_the_chain_goes_on(tmp_path, monkeypatch, caplog):
    disk = _Disk(fail_on={3})
    monkeypatch.setattr(audit_log.os, "fsync", disk)
    log = AuditLog(tmp_path / "audit.log", key=KEY)
    done, refused = _writers(log, disk, threads=20, batches=5)
    assert refused, "the failed fsync covered somebody's records: they must hear it"
    assert len(done) + len(refused) == 100
    ends = _line_ends(tmp_path / "audit.log")
    for _request, ids, covered in done:
        assert all(ends[i] <= covered for i in ids)
    assert any("audit fsync failed" in r.getMessage() and refused[0] in r.getMessage() for r in caplog.records)

    after = log.write({"type": "decision", "request_id": "after-the-failure"})  # the log goes on
    log.close()
    assert after["record_id"] in _line_ends(tmp_path / "audit.log")
    report = verify(tmp_path / "audit.log", KEY)
    assert report.ok, report


def test_rotation_under_concurrent_writers_loses_nothing(tmp_path, monkeypatch):
    disk = _Disk()
    monkeypatch.setattr(audit_log.os, "fsync", disk)
    log = AuditLog(tmp_path / "audit.log", key=KEY, max_bytes=4096)
    done, refused = _writers(log, disk, threads=10, batches=10)
    log.close()
    assert not refused and len(done) == 100
    assert len(audit_log.rotated_files(tmp_path / "audit.log")) > 3
    records = [r for r in read_records(tmp_path / "audit.log") if r["type"] == "decision"]
    assert len(records) == 300
    report = verify(tmp_path / "audit.log", KEY)
    assert report.ok, report


_CHILD = """
import sys, threading, uuid
from spin_gateway.audit.log import AuditLog
log = AuditLog(sys.argv[1], key=sys.argv[2].encode())
out = threading.Lock()
def work(t):
    while True:
        request = f"{t}-{uuid.uuid4().hex[:8]}"
        log.write_many([{"type": "decision", "request_id": request, "call_id": str(i)} for i in range(3)])
        with out:
            print(request, flush=True)  # acknowledged: what a caller would have been answered on
for t in range(20):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_a_writer_killed_mid_flight_leaves_every_acknowledged_record_and_a_chain_that_verifies(tmp_path):
    import signal
    import subprocess
    import sys

    path = tmp_path / "audit.log"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), KEY.decode()], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    assert child.stdout is not None
    for line in child.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= 200:
            break
    child.send_signal(signal.SIGKILL)  # in the middle of writes and of group fsyncs
    child.wait()
    acknowledged += [line.strip() for line in child.stdout]

    AuditLog(path, key=KEY).close()  # a restart repairs a torn tail, if any, into a recovery record
    written = {r.get("request_id") for r in read_records(path)}
    assert set(acknowledged) <= written
    report = verify(path, KEY)
    assert report.ok, report
