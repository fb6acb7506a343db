"""An audit log that cannot be written (a really full disk, a read-only file or file system): nothing is
forwarded, the client gets a clear error, and the log keeps a whole, verifiable chain."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.backends.manifests import ManifestsBackend
from spin_gateway.interceptor.intercept import intercept
from spin_gateway.vocabulary.errors import AuditError
from tests.faults.conftest import fill
from tests.faults.plans import ALICE, ctx, plan, project_objects

NS = "demo"
KEY = b"k" * 32
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _up(log, allow_all, out, request_id):
    return intercept(plan(NS, project_objects(NS)), ALICE, allow_all, log, ManifestsBackend(out), ctx(request_id),
                     dry_run=False)


def test_a_full_disk_refuses_the_up_forwards_nothing_and_the_chain_survives(tmp_path, small_fs, allow_all, caplog):
    log = AuditLog(small_fs / "audit.log", key=KEY)
    out = tmp_path / "out"
    _up(log, allow_all, out, "before")
    assert (out / NS).is_dir()
    (out / NS).rename(tmp_path / "first")  # so that any later forward would show
    before = (small_fs / "audit.log").read_bytes()

    fill(small_fs)
    with pytest.raises(AuditError) as info:
        _up(log, allow_all, out, "full")
    assert "cannot write the audit log" in info.value.message and "No space left" in info.value.message
    assert "Nothing was forwarded" in info.value.hint
    assert not (out / NS).exists(), "the plan was forwarded although its decisions were not on disk"
    assert (small_fs / "audit.log").read_bytes() == before  # no half record left behind
    assert any("audit write failed" in m and "full" in m for m in caplog.messages)  # the operators' log says so

    os.remove(small_fs / "filler")  # the administrators free the disk
    _up(log, allow_all, out, "after")
    log.close()
    report = verify(small_fs / "audit.log", key=KEY)
    assert report.ok, report
    ids = [r["request_id"] for r in read_records(small_fs / "audit.log") if r["type"] == "decision"]
    assert "full" not in ids and ids.count("after") == 1 + len(project_objects(NS))


def test_a_write_that_only_partly_fits_is_cut_back_to_the_last_whole_record(small_fs):
    log = AuditLog(small_fs / "audit.log", key=KEY)
    log.write({"type": "decision", "n": 0})
    before = (small_fs / "audit.log").read_bytes()
    fill(small_fs, leave=4096)  # room for part of what comes next
    with pytest.raises(AuditError):
        log.write_many([{"type": "decision", "n": i, "pad": "x" * 2000} for i in range(1, 6)])
    assert (small_fs / "audit.log").read_bytes() == before
    os.remove(small_fs / "filler")
    log.write({"type": "decision", "n": 6})
    log.close()
    assert verify(small_fs / "audit.log", key=KEY).ok
    assert [r["n"] for r in read_records(small_fs / "audit.log")] == [0, 6]


def test_a_log_made_read_only_while_the_gateway_runs_refuses_the_up(tmp_path, immutable, allow_all):
    log = AuditLog(tmp_path / "audit.log", key=KEY)
    log.write({"type": "decision", "n": 0})
    # Not even root can write it now, through the open fd neither (ext4, xfs, btrfs check at write time;
    # tmpfs only at open, so this file stays on /tmp, which is the root file system on Debian 12).
    immutable(tmp_path / "audit.log")
    out = tmp_path / "out"
    with pytest.raises(AuditError) as info:
        _up(log, allow_all, out, "ro")
    assert "Operation not permitted" in info.value.message
    assert not out.exists()
    log.close()


def test_a_gateway_whose_log_is_on_a_read_only_file_system_does_not_start(tmp_path, small_fs):
    log = AuditLog(small_fs / "audit.log", key=KEY)
    log.write({"type": "decision", "n": 0})
    log.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(AuditError) as info:
        AuditLog(small_fs / "audit.log", key=KEY)
    assert "Read-only file system" in info.value.message and str(small_fs / "audit.log") in info.value.message
    proc = subprocess.run(
        [sys.executable, "-m", "spin_gateway.cli.main", "gateway", "serve", "--port", "1", "--backend", "manifests",
         "--audit-log", str(small_fs / "audit.log"), "--state-dir", str(tmp_path / "state"),
         "--policy-dir", os.path.join(ROOT, "rego"), "--users", os.path.join(ROOT, "examples/users.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "audit log" in proc.stderr + proc.stdout and "Read-only file system" in proc.stderr + proc.stdout


def test_a_disk_that_fills_while_forwarding_says_the_plan_was_applied_but_not_its_results(tmp_path, small_fs,
                                                                                         allow_all):
    class FillsTheDisk(ManifestsBackend):
        def apply(self, ref, calls):
            results = super().apply(ref, calls)
            fill(small_fs)  # another writer on the same disk takes the last space meanwhile
            return results

    log = AuditLog(small_fs / "audit.log", key=KEY)
    out = tmp_path / "out"
    with pytest.raises(AuditError) as info:
        intercept(plan(NS, project_objects(NS)), ALICE, allow_all, log, FillsTheDisk(out), ctx("late"), dry_run=False)
    assert "the plan was forwarded, but its results could not be recorded" in info.value.message
    assert "The decisions are on record" in info.value.hint and "Nothing was forwarded" not in info.value.hint
    assert len(list((out / NS).iterdir())) == 1 + len(project_objects(NS))
    os.remove(small_fs / "filler")
    log.close()
    records = list(read_records(small_fs / "audit.log"))
    assert [r["type"] for r in records] == ["decision"] * (1 + len(project_objects(NS)))
    assert verify(small_fs / "audit.log", key=KEY).ok
