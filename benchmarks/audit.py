"""Issue 6's figures: audit records per second with fsync, and `spin audit verify` over a million records.

    .venv/bin/python benchmarks/audit.py [--records 1000000] [--dir DIR] [--seconds 5] [--keep]

Figures only, nothing asserted. Records are shaped as the interceptor writes
them (a Deployment's decision with patches) and written by the real writer
(audit.log.AuditLog, with the HMAC key, 64 MiB rotation); the million
are written in fsynced batches of 1000 so that generating them takes a minute,
not hours. Verification is timed as a user runs it: the `spin audit verify`
command in a fresh process, with the key (every HMAC) and without.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spin_gateway.audit.log import AuditLog  # noqa: E402

KEY = b"benchmark-audit-key-0123456789abcdef"


def decision_record(i: int) -> dict:
    """A typical allowed Deployment decision, as interceptor/intercept.py writes it."""
    return {
        "type": "decision", "request_id": f"{i // 10:032x}", "call_id": f"{i % 10:03d}-deployment-web{i % 10}",
        "user": {"name": "alice", "uid": 1001}, "token": {"id": "5f0c" * 8, "kind": "user"}, "on_behalf_of": None,
        "source": "127.0.0.1", "project": "bench", "facility_project": "astro", "namespace": "bench",
        "operation": "up", "verb": "CREATE", "object": {"kind": "Deployment", "name": f"web{i % 10}"},
        "decision": "allow", "violations": [], "warnings": [],
        "patches": [{"op": "add", "path": "/spec/template/spec/securityContext",
                     "value": {"runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 1001}}],
        "policy_revision": "sha256:" + "ab" * 16, "engine": "embedded-opa", "decision_ms": 0.412, "error": None,
    }


def rate(folder: Path, *, batch: int, fsync: bool, seconds: float) -> dict:
    path = folder / f"rate-{batch}-{int(fsync)}" / "audit.log"
    log = AuditLog(path, key=KEY, fsync=fsync)
    written, started, i = 0, time.perf_counter(), 0
    deadline = started + seconds
    while time.perf_counter() < deadline:
        log.write_many([decision_record(i + k) for k in range(batch)])
        written += batch
        i += batch
    elapsed = time.perf_counter() - started
    log.close()
    return {"records": written, "seconds": elapsed, "per_s": written / elapsed,
            "bytes_per_record": path.stat().st_size / written}


def concurrent_rate(folder: Path, *, clients: int, batch: int, seconds: float) -> dict:
    """`clients` threads each writing plans of `batch` records (write_many, fsync on) for `seconds`:
    the records a second the log keeps on disk, with group commit sharing the fsyncs."""
    import threading

    path = folder / f"concurrent-{clients}-{batch}" / "audit.log"
    log = AuditLog(path, key=KEY, fsync=True)
    counts = [0] * clients
    syncs = [0]
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        syncs[0] += 1
        real_fsync(fd)

    stop = threading.Event()

    def work(n: int) -> None:
        i = 0
        while not stop.is_set():
            log.write_many([decision_record(n * 1_000_000 + i + k) for k in range(batch)])
            counts[n] += batch
            i += batch

    import spin_gateway.audit.log as audit_log_module

    audit_log_module.os.fsync = counting_fsync  # type: ignore[assignment]  # how many fsyncs were shared
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        audit_log_module.os.fsync = real_fsync  # type: ignore[assignment]
        log.close()
    written = sum(counts)
    return {"records": written, "per_s": written / elapsed, "fsyncs": syncs[0],
            "writes_per_fsync": (written / batch) / max(syncs[0], 1)}


def generate(path: Path, records: int) -> float:
    log = AuditLog(path, key=KEY)
    started = time.perf_counter()
    for start in range(0, records, 1000):
        log.write_many([decision_record(i) for i in range(start, min(records, start + 1000))])
    log.close()
    return time.perf_counter() - started


def time_verify(path: Path, key_file: Path | None) -> tuple[float, float, str]:
    cmd = [sys.executable, "-m", "spin_gateway.cli.main", "audit", "verify", "--log", str(path)]
    if key_file is not None:  # otherwise no key beside the log: chain and head only
        cmd += ["--key", str(key_file)]
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, (proc.stdout + proc.stderr).strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir, removed after)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="spin-audit-bench-", dir=args.dir))
    try:
        print(f"audit benchmark in {folder} ({os.uname().sysname} {os.uname().release}, {os.cpu_count()} cpus)")
        print("records per second (real writer, HMAC key, one write(2) per batch):")
        for batch, fsync in ((1, True), (10, True), (100, True), (1, False)):
            r = rate(folder, batch=batch, fsync=fsync, seconds=args.seconds)
            label = f"batch {batch:>3}, {'fsync' if fsync else 'no fsync'}"
            print(f"  {label:<22} {r['per_s']:>10,.0f} records/s  ({r['records']} in {r['seconds']:.1f} s, "
                  f"{r['bytes_per_record']:.0f} bytes/record)")
        big = folder / "million" / "audit.log"
        took = generate(big, args.records)
        size = sum(p.stat().st_size for p in big.parent.glob("audit.log*"))
        files = len(list(big.parent.glob("audit.log*"))) - 2  # not the .head and .lock files
        print(f"generated {args.records:,} records ({size / 2**20:,.0f} MiB in {files} files) in {took:.1f} s "
              f"({args.records / took:,.0f} records/s in fsynced batches of 1000)")
        key_file = folder / "audit.key"
        key_file.write_bytes(KEY)
        for label, key in (("chain + head + every HMAC", key_file), ("chain + head, no key", None)):
            seconds, cpu, output = time_verify(big, key)
            # CPU seconds (all worker processes) say what it costs on a machine shared with other work.
            print(f"spin audit verify, {label:<26} {seconds:6.1f} s wall, {cpu:6.1f} s CPU  "
                  f"({args.records / seconds:,.0f} records/s)  -> {output.splitlines()[0] if output else ''}")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
