"""The audit log: every record on disk, chained, and any edit found and named."""

from __future__ import annotations

import itertools
import json
import os

import pytest

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.vocabulary.errors import AuditError


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
    report = verify(path, key=key)  # no later record's prev notices; the HMAC does
    assert not report.ok and report.line == 4 and "HMAC" in report.problem
    # without the key, the head file (which names the last record's hash) still does
    unkeyed = verify(path)
    assert not unkeyed.ok and unkeyed.line == 4 and "last record was changed" in unkeyed.problem
    assert not verify(path, key=b"x" * 32).ok  # and a wrong key verifies nothing


KEY = b"k" * 32


@pytest.mark.parametrize("cut", [1, 3])
def test_records_cut_off_the_end_are_found_by_the_head_file(tmp_path, cut):
    path = tmp_path / "audit.log"
    _write(path, 6, key=KEY)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-cut]))  # what `truncate` or an editor leaves: a shorter, valid chain
    report = verify(path, key=KEY)
    assert not report.ok
    assert "cut off the end" in report.problem and report.file == str(path) + ".head"
    assert report.record_id == json.loads(lines[-1])["record_id"]  # names the last record that is gone


def test_deleting_the_newest_file_after_rotation_is_found(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 40, max_bytes=2000, key=KEY)
    assert verify(path, key=KEY).ok
    os.remove(path)  # the current file, with the newest records
    report = verify(path, key=KEY)
    assert not report.ok and "cut off the end" in report.problem


def test_a_head_file_rewritten_without_the_key_is_refused(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 5, key=KEY)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))
    head_file = tmp_path / "audit.log.head"
    from spin_gateway.audit.log import HEAD_SLOT, line_hash, read_head_slots
    head = max(read_head_slots(head_file.read_bytes()), key=lambda slot: slot["seq"])
    head.update(hash=line_hash(lines[-3]), record_id=json.loads(lines[-3])["record_id"], line=3, seq=head["seq"] + 1)
    forged = json.dumps(head).encode().ljust(HEAD_SLOT - 1) + b"\n"
    head_file.write_bytes(forged + forged)  # the forger cannot compute the head's HMAC
    report = verify(path, key=KEY)
    assert not report.ok and "head file's HMAC" in report.problem
    head_file.unlink()
    report = verify(path, key=KEY)
    assert not report.ok and "head file is missing" in report.problem


def test_a_head_left_behind_by_a_power_cut_is_accepted_with_a_note(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3, key=KEY)
    older = (tmp_path / "audit.log.head").read_bytes()
    _write(path, 2, key=KEY)
    (tmp_path / "audit.log.head").write_bytes(older)  # the head's rename did not reach the disk
    report = verify(path, key=KEY)
    assert report.ok and report.records == 5
    assert report.notes and report.notes[0].startswith("2 record(s) after")


def test_verify_names_file_line_and_record_id_in_a_rotated_file(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 40, max_bytes=2000, key=KEY)
    victim = tmp_path / "audit.log.2"
    lines = victim.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["decision"] = "deny"
    lines[1] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    victim.write_bytes(b"".join(lines))
    report = verify(path, key=KEY)
    assert not report.ok
    assert (report.file, report.line, report.record_id) == (str(victim), 2, record["record_id"])
    assert "HMAC" in report.problem


def test_a_missing_log_is_a_clear_error(tmp_path):
    from spin_gateway.vocabulary.errors import UsageError

    with pytest.raises(UsageError) as info:
        verify(tmp_path / "nothing.log")
    assert "no audit log at" in info.value.message


def _child_writes(path, name, n, go):
    log = AuditLog(path, max_bytes=4000, fsync=False, key=KEY)
    go.wait(30)
    for i in range(n):
        log.write({"type": "decision", "writer": name, "n": i})
    log.close()


def test_several_processes_share_one_chain_across_rotation(tmp_path):
    """uvicorn --workers N gives N processes one --audit-log: their records interleave in one chain."""
    import multiprocessing

    path = tmp_path / "audit.log"
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_child_writes, args=(path, f"w{i}", 150, go)) for i in range(3)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = verify(path, key=KEY)
    assert report.ok, report
    assert report.records == 450 and len(report.files) > 3
    records = list(read_records(path))
    for name in ("w0", "w1", "w2"):
        assert [r["n"] for r in records if r.get("writer") == name] == list(range(150))
    switches = sum(1 for a, b in itertools.pairwise(records) if a["writer"] != b["writer"])
    assert switches > 2, "the writers did not interleave; the test proves little"


def test_the_stdout_sink_gets_the_same_lines_as_the_file(tmp_path):
    import io

    sink = io.StringIO()
    log = AuditLog(tmp_path / "audit.log", stream=sink, key=KEY)
    log.write({"type": "decision", "n": 1})
    log.write_many([{"type": "forward", "n": 2}, {"type": "forward", "n": 3}])
    log.close()
    assert sink.getvalue().encode() == (tmp_path / "audit.log").read_bytes()


def _cli(*args):
    from typer.testing import CliRunner

    from spin_gateway.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_spin_audit_filters_a_log_file_and_prints_json(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write({"type": "decision", "user": {"name": "alice", "uid": 1}, "project": "demo", "decision": "allow"})
    log.write({"type": "decision", "user": {"name": "alice", "uid": 1}, "project": "demo", "decision": "deny",
               "violations": [{"rule": "no-privileged", "message": "no"}]})
    log.write({"type": "forward", "user": {"name": "bob", "uid": 2}, "project": "other"})
    log.close()
    result = _cli("audit", "--log", str(path), "--decision", "deny", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [r["violations"][0]["rule"] for r in items] == ["no-privileged"]
    assert [r["user"]["name"] for r in json.loads(_cli("audit", "--log", str(path), "--type", "forward", "--json").output)] == ["bob"]
    assert json.loads(_cli("audit", "--log", str(path), "--rule", "no-privileged", "--user", "bob", "--json").output) == []


def test_spin_audit_verify_exits_1_and_names_file_line_and_record(tmp_path):
    path = tmp_path / "audit.log"
    (tmp_path / "audit.key").write_bytes(KEY)
    _write(path, 4, key=KEY)
    ok = _cli("audit", "verify", "--log", str(path))
    assert ok.exit_code == 0 and "ok: 4 records" in ok.output and "every HMAC verified" in ok.output
    lines = path.read_bytes().splitlines(keepends=True)
    victim = json.loads(lines[1])
    path.write_bytes(b"".join(lines[:1] + lines[2:]))  # a record removed
    bad = _cli("audit", "verify", "--log", str(path))
    assert bad.exit_code == 1
    assert f"TAMPERED: {path}:2 (record {json.loads(lines[2])['record_id']})" in bad.output
    assert victim["record_id"] not in bad.output


def test_a_head_slot_torn_by_a_power_cut_falls_back_to_the_other_slot(tmp_path):
    from spin_gateway.audit.log import HEAD_SLOT, read_head_slots

    path = tmp_path / "audit.log"
    _write(path, 4, key=KEY)
    head_file = tmp_path / "audit.log.head"
    data = bytearray(head_file.read_bytes())
    newest = max(read_head_slots(bytes(data)), key=lambda slot: slot["seq"])
    at = (newest["seq"] % 2) * HEAD_SLOT
    data[at + 40:at + HEAD_SLOT] = b"\0" * (HEAD_SLOT - 40)  # half a slot reached the disk
    head_file.write_bytes(bytes(data))
    report = verify(path, key=KEY)
    assert report.ok and report.notes and report.notes[0].startswith("1 record(s) after")


def test_a_log_deleted_with_its_head_is_reported_not_mistaken_for_none(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3, key=KEY)
    os.remove(path)
    os.remove(tmp_path / "audit.log.head")
    report = verify(path, key=KEY)
    assert not report.ok and "are gone" in report.problem


def _restart_and_write(path, **kw):
    log = AuditLog(path, key=KEY, **kw)
    log.write({"type": "decision", "n": "after-restart"})
    log.close()


def test_records_cut_off_while_the_gateway_was_stopped_are_reported_after_it_restarts(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 6, key=KEY)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))  # stop, cut, start: the new head alone would hide the cut
    _restart_and_write(path)
    report = verify(path, key=KEY)
    assert not report.ok and (report.file, report.line) == (str(path), 5)
    assert "records were cut off the end" in report.problem
    assert json.loads(lines[-1])["record_id"] in report.problem


def test_the_newest_file_removed_while_stopped_is_reported_after_restart(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 40, max_bytes=2000, key=KEY)
    os.remove(path)
    _restart_and_write(path, max_bytes=2000)
    report = verify(path, key=KEY)
    assert not report.ok and "cut off the end, or the newest file removed" in report.problem


def test_a_head_deleted_while_stopped_is_reported_after_restart(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 3, key=KEY)
    os.remove(tmp_path / "audit.log.head")
    _restart_and_write(path)
    report = verify(path, key=KEY)
    assert not report.ok and "head file was missing or empty" in report.problem and report.line == 4


def test_a_restart_after_rotation_or_a_lagging_head_is_no_gap(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 40, max_bytes=2000, key=KEY)
    _restart_and_write(path, max_bytes=2000)
    older = (tmp_path / "audit.log.head").read_bytes()
    _write(path, 2, key=KEY, max_bytes=2000)
    (tmp_path / "audit.log.head").write_bytes(older)  # a power cut kept the head two records behind
    _restart_and_write(path, max_bytes=2000)
    report = verify(path, key=KEY)
    assert report.ok, report
    assert not [r for r in read_records(path) if r["type"] == "gap"]


def test_old_files_removed_for_retention_verify_with_pruned_and_only_with_it(tmp_path):
    path = tmp_path / "audit.log"
    _write(path, 40, max_bytes=2000, key=KEY)
    os.remove(tmp_path / "audit.log.1")
    os.remove(tmp_path / "audit.log.2")
    strict = verify(path, key=KEY)
    assert not strict.ok and strict.file == str(tmp_path / "audit.log.3") and strict.line == 1
    report = verify(path, key=KEY, pruned=True)
    assert report.ok and "starts mid-way" in report.notes[0]
    # an edit after the pruned start is still found
    victim = tmp_path / "audit.log.4"
    lines = victim.read_bytes().splitlines(keepends=True)
    victim.write_bytes(b"".join(lines[:1] + lines[2:]))
    assert not verify(path, key=KEY, pruned=True).ok


def test_queries_find_exactly_the_matching_records_through_the_byte_sieve(tmp_path):
    from spin_gateway.audit.query import AuditFilter, query

    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write({"type": "decision", "user": {"name": "zoë", "uid": 7}, "project": "p", "decision": "deny",
               "violations": [{"rule": "no-privileged", "message": "m"}]})
    log.write({"type": "decision", "user": {"name": "bob", "uid": 8}, "object": {"kind": "Pod", "name": "zoë"},
               "project": "p", "decision": "deny", "violations": [{"rule": "no-privileged", "message": "m"}]})
    log.write({"type": "forward", "user": {"name": "zoë", "uid": 7}, "project": "q"})
    log.close()
    assert [r["user"]["name"] for r in query(path, AuditFilter(user="zoë", rule="no-privileged"))] == ["zoë"]
    assert [r["project"] for r in query(path, AuditFilter(user="zoë"))] == ["p", "q"]
    assert [r["user"]["name"] for r in query(path, AuditFilter(decision="deny", project="p"))] == ["zoë", "bob"]
    assert list(query(path, AuditFilter(user="zoe"))) == []


def test_the_only_file_removed_with_its_head_left_is_reported_not_a_crash(tmp_path):
    # No file to walk, but the head names a record: verify must say records are missing (it once raised
    # ValueError from a zip of the files and their starting hashes, whose lengths differ when there are none).
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.write({"type": "decision", "n": 1})
    log.close()
    os.remove(path)
    report = verify(path)
    assert not report.ok and "cut off the end" in report.problem
