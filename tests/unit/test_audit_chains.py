"""Audit with replicas: each replica writes its own chain in one folder; verify checks them together and
names a tampered one; queries read them merged by time."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from spin_gateway.audit.chains import chains, merged_records, verify_folder
from spin_gateway.audit.log import AuditLog
from spin_gateway.audit.query import AuditFilter, query
from tests.e2e.conftest import ROOT, SPIN

KEY = b"chain-test-key-0123456789abcdef-0123456789"


def _replicas(folder: Path, writes: dict[str, int], max_bytes: int = 0) -> None:
    logs = {name: AuditLog(folder / f"audit-{name}.jsonl", key=KEY, fsync=False, replica=name,
                           max_bytes=max_bytes) for name in writes}
    # Interleaved in time, as replicas behind one Service write.
    for n in range(max(writes.values())):
        for name, log in logs.items():
            if n < writes[name]:
                log.write({"type": "decision", "user": {"name": "alice"}, "project": f"p{n}", "n": n})
    for log in logs.values():
        log.close()


def test_a_folder_of_chains_verifies_together_with_records_per_replica(tmp_path):
    folder = tmp_path / "audit"
    _replicas(folder, {"gw-a": 7, "gw-b": 5, "gw-c": 3}, max_bytes=2000)  # rotated files too
    assert [c.name for c in chains(folder)] == ["audit-gw-a.jsonl", "audit-gw-b.jsonl", "audit-gw-c.jsonl"]
    result = verify_folder(folder, KEY)
    assert result.ok and result.records == 15
    assert {name: r.records for name, r in result.chains.items()} == {"gw-a": 7, "gw-b": 5, "gw-c": 3}


def test_a_tampered_chain_is_named_and_the_others_still_reported(tmp_path):
    folder = tmp_path / "audit"
    _replicas(folder, {"gw-a": 4, "gw-b": 4})
    victim = folder / "audit-gw-b.jsonl"
    lines = victim.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'"project":"p1"', b'"project":"px"')
    victim.write_bytes(b"\n".join(lines) + b"\n")
    result = verify_folder(folder, KEY)
    assert not result.ok and result.broken == ["gw-b"]
    assert result.chains["gw-a"].ok and result.chains["gw-b"].line == 2
    out = subprocess.run([*SPIN, "audit", "verify", "--log", str(folder), "--key", str(_key(tmp_path))],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "gw-a: ok: 4 records" in out.stdout and f"gw-b: TAMPERED: {victim}:2" in out.stdout
    assert "broken: gw-b" in out.stdout


def test_a_chain_removed_from_the_folder_while_its_head_stays_is_reported(tmp_path):
    folder = tmp_path / "audit"
    _replicas(folder, {"gw-a": 2, "gw-b": 2})
    (folder / "audit-gw-b.jsonl").unlink()
    result = verify_folder(folder, KEY)
    assert result.broken == ["gw-b"] and "cut off the end" in result.chains["gw-b"].problem


def test_queries_read_every_chain_merged_by_time(tmp_path):
    folder = tmp_path / "audit"
    _replicas(folder, {"gw-a": 3, "gw-b": 3})
    merged = list(merged_records(folder))
    assert [r["time"] for r in merged] == sorted(r["time"] for r in merged) and len(merged) == 6
    assert [(r["replica"], r["n"]) for r in query(folder, AuditFilter(project="p1"))] == [("gw-a", 1), ("gw-b", 1)]
    out = subprocess.run([*SPIN, "audit", "--log", str(folder), "--project", "p2", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert sorted(r["replica"] for r in json.loads(out.stdout)) == ["gw-a", "gw-b"]


def _key(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(KEY)
    return path
