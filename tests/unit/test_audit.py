"""The audit log: every record on disk, chained, and any edit found and named."""

from __future__ import annotations

import json
import os

import pytest

from interceptor.audit import AuditLog, read_records
from interceptor.audit_verify import verify
from interceptor.errors import AuditError


def _write(path, n, **kw):
    log = AuditLog(path, **kw)
    for i in range(n):
        log.write({"type": "decision", "n": i, "decision": "allow"})
    log.close()


def test_records_are_chained_and_verify_clean(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 5)
    report = verify(path)
    assert report.ok and report.records == 5
    assert [r["n"] for r in read_records(path)] == list(range(5))


def test_chain_continues_when_the_gateway_restarts(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3)
    _write(path, 2)
    assert verify(path).ok and verify(path).records == 5


@pytest.mark.parametrize("tamper", ["change", "remove", "insert", "reorder"])
def test_verify_names_the_line_where_the_log_was_edited(tmp_path, tamper):
    path = tmp_path / "audit.log"
    _write(path, 6)
    lines = path.read_bytes().splitlines(keepends=True)
    if tamper == "change":
        record = json.loads(lines[2])
        record["decision"] = "deny"
        lines[2] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    elif tamper == "remove":
        del lines[2]
    elif tamper == "insert":
        lines.insert(2, lines[1])
    else:
        lines[2], lines[3] = lines[3], lines[2]
    path.write_bytes(b"".join(lines))
    report = verify(path)
    assert not report.ok
    assert report.line in (3, 4)  # the first record whose predecessor no longer matches
    assert report.file == str(path)


def test_rotation_keeps_one_chain_across_files(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 40, max_bytes=2000)
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert len(rotated) > 2, rotated
    report = verify(path)
    assert report.ok and report.records == 40
    # removing a whole rotated file in the middle is found
    os.remove(tmp_path / "audit.log.2")
    assert not verify(path).ok


def test_an_unwritable_log_is_an_audit_error(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    log = AuditLog(target / "audit.log")
    log._fh.close()
    log._fh = open("/dev/full", "ab", buffering=0)  # a real device that fails every write with ENOSPC
    with pytest.raises(AuditError) as info:
        log.write({"type": "decision"})
    assert "cannot write the audit log" in info.value.message


def test_a_torn_last_line_is_kept_in_a_recovery_record_and_the_chain_goes_on(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3)
    with open(path, "ab") as fh:
        fh.write(b'{"type":"decision","n":99,"pre')  # what a power cut mid-write could leave
    _write(path, 2)
    report = verify(path)
    assert report.ok and report.records == 3 + 1 + 2
    recovery = [r for r in read_records(path) if r["type"] == "recovery"]
    assert len(recovery) == 1
    import base64
    assert base64.b64decode(recovery[0]["torn_bytes_b64"]).startswith(b'{"type":"decision","n":99')


def test_write_many_is_one_chain_with_the_single_writes(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write({"n": 0})
    log.write_many([{"n": 1}, {"n": 2}, {"n": 3}])
    log.write({"n": 4})
    log.close()
    assert verify(path).ok and [r["n"] for r in read_records(path)] == [0, 1, 2, 3, 4]


def test_with_the_key_an_edited_last_record_is_found(tmp_path):
    key = b"k" * 32
    path = tmp_path / "audit.log"
    _write(path, 4, key=key)
    assert verify(path, key=key).ok
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[-1])
    record["decision"] = "deny"  # the last record: no later record's chain would notice
    lines[-1] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    path.write_bytes(b"".join(lines))
    assert verify(path).ok  # the plain chain cannot see it ...
    report = verify(path, key=key)  # ... the keyed check does
    assert not report.ok and report.line == 4 and "HMAC" in report.problem
    assert not verify(path, key=b"x" * 32).ok  # and a wrong key verifies nothing
