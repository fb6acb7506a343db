"""The audit log: append-only JSON lines, fsynced, hash-chained, rotated by size.

Every record carries `prev`, the SHA-256 of the previous record's line, so
changing, removing, inserting or reordering a record breaks the chain at that
place (`spin audit verify`). The chain continues across rotation: the first
record of a new file points at the last line of the rotated one. With the
gateway's audit key every record also carries an HMAC, and the head file
(`<log>.head`, HMAC'd) names the last record written, so cutting records off
the end is found too.

A record is on disk (write + fsync) before the caller goes on: the interceptor
writes the decisions before forwarding and the results before answering. When
the write fails (disk full, read-only, permission), AuditError stops the call
and the file is cut back to its last whole record, so the chain stays intact.

Group commit: the records are chained and written under the lock, but the fsync
is not held under it. A writer whose lines are in the file waits until an fsync
that began after its write has finished; one writer at a time runs that fsync
for everyone written so far, so 200 concurrent requests share a few fsyncs
instead of queueing for 200 (fsync is per file, whoever's lines it carries). A
failed fsync fails every writer it was to cover (their lines may stay in the
file, chained, but no caller was told they are on disk).

Several processes may write one log (uvicorn --workers N): an exclusive flock on
`<log>.lock` orders them, and each picks up the chain (and a rotation) that the
others left before it writes. They are processes of one machine: replicas on
several machines each write a chain of their own (`audit-<replica>.jsonl`, and
each record names its `replica`), so no lock is ever taken across machines.

Keys rotate: every keyed record (and the head) names the id of the key that
MACs it (`key_id`), the key comes from a ring that may change while the gateway
runs (vocabulary/keys.py), and verify checks each record with the key it names.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog

from spin_gateway.audit import records
from spin_gateway.vocabulary.errors import AuditError
from spin_gateway.vocabulary.keys import KeyRing

log = logging.getLogger("spin.audit")

SCHEMA_VERSION = 1
GENESIS = "0" * 64

# structlog renders the records: one ordered, JSON-safe rendering for the
# file, the facility's log pipeline (stdout) and the hash alike.
_render = structlog.processors.JSONRenderer(sort_keys=True, separators=(",", ":"), default=str)


def render(record: dict[str, Any]) -> bytes:
    text = _render(None, "", dict(record))
    return text if isinstance(text, bytes) else text.encode()


def record_mac(key: bytes, line_without_mac: bytes) -> str:
    """HMAC of a record: without the gateway's key, nobody can write a record that verifies."""
    return hmac.digest(key, line_without_mac, "sha256").hex()  # the one-shot C path: verify calls it per record


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def head_mac(key: bytes, head: dict[str, Any]) -> str:
    return record_mac(key, render({k: v for k, v in head.items() if k != "mac"}))


def keys_for(ring: dict[str, bytes], key_id: Any) -> list[bytes]:
    """The keys that may have MAC'd a record: the one its key_id names, or, for records written before
    records named their key, any key of the ring."""
    if key_id is None:
        return list(ring.values())
    key = ring.get(key_id) if isinstance(key_id, str) else None
    return [key] if key is not None else []


#: The head file holds two fixed-size slots written in turn, each a JSON line with a sequence number:
#: a write torn by a power cut spoils one slot and the other still names an earlier record.
HEAD_SLOT = 1024


def read_head_slots(data: bytes) -> list[dict[str, Any]]:
    slots = []
    for start in (0, HEAD_SLOT):
        try:
            slot = json.loads(data[start:start + HEAD_SLOT])
        except ValueError:
            continue
        if isinstance(slot, dict) and isinstance(slot.get("hash"), str) and isinstance(slot.get("seq"), int):
            slots.append(slot)
    return slots


def last_line(path: Path) -> bytes | None:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            pos = end
            chunk = b""
            while pos > 0:
                step = min(65536, pos)
                pos -= step
                fh.seek(pos)
                chunk = fh.read(step) + chunk
                stripped = chunk.rstrip(b"\n")
                nl = stripped.rfind(b"\n")
                if nl >= 0:
                    return stripped[nl + 1:]
            stripped = chunk.rstrip(b"\n")
            return stripped or None
    except FileNotFoundError:
        return None


def _count_lines(path: Path) -> int:
    count = 0
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                count += block.count(b"\n")
    except FileNotFoundError:
        return 0
    return count


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the log, oldest first (audit.log.1 is the oldest)."""
    found = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1:]
        if suffix.isdigit():
            found.append((int(suffix), candidate))
    return [p for _, p in sorted(found)]


def all_files(path: Path) -> list[Path]:
    return rotated_files(path) + ([path] if path.exists() else [])


class AuditLog:
    def __init__(self, path: str | Path, *, max_bytes: int = 64 << 20, stdout: bool = False,
                 fsync: bool = True, stream: IO[str] | None = None, key: bytes | None = None,
                 keys: KeyRing | Callable[[], KeyRing] | None = None, replica: str | None = None):
        self.path = Path(path)
        self.replica = replica
        # `keys` (a ring, or what returns the current ring: a rotating Secret) wins over a bare `key`.
        self._keys = keys if keys is not None else (KeyRing.single(key) if key is not None else None)
        self._key: bytes | None = None
        self._key_id: str | None = None
        self._ring: dict[str, bytes] = {}
        self._rekey()
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._stream = stream if stream is not None else (sys.stdout if stdout else None)
        self._lock = threading.Lock()
        self._fh: Any = None
        self._ino = -1
        self._size = 0  # bytes of the current file that this process has accounted for
        self._lines = 0
        self._prev = GENESIS
        # Group commit (see the module docstring): writes counted, and how many of them an fsync has covered.
        self._sync = threading.Condition(threading.Lock())
        self._written = 0
        self._synced = 0
        self._syncing = False
        self._failed_upto, self._failed_why = 0, ""  # the writes a failed fsync covered: none of them is durable
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            self._headfd = os.open(head_path(self.path), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from None
        with self._lock, self._exclusive():
            self._catch_up()

    def _rekey(self) -> None:
        """Take the ring's current key (it may have rotated since the last write)."""
        if self._keys is None:
            return
        ring = self._keys() if callable(self._keys) else self._keys
        self._key, self._key_id, self._ring = ring.key, ring.current, ring.keys

    # -- staying in step with the file (and with other processes writing it) -----------------

    class _Flock:
        def __init__(self, fd: int):
            self.fd = fd

        def __enter__(self):
            fcntl.flock(self.fd, fcntl.LOCK_EX)

        def __exit__(self, *exc):
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _exclusive(self) -> AuditLog._Flock:
        return AuditLog._Flock(self._lockfd)

    def _open(self) -> None:
        if self._fh is not None:
            self._fh.close()
        try:
            self._fh = open(self.path, "ab", buffering=0)
            os.chmod(self.path, 0o600)
        except OSError as exc:
            self._fh = None
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from None
        st = os.fstat(self._fh.fileno())
        self._ino, self._size, self._lines = st.st_ino, 0, 0

    def _catch_up(self) -> None:
        """Under the flock: reopen after another process rotated, re-read the chain's end if the file grew."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        except OSError as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc.strerror}") from None
        if self._fh is None or on_disk is None or on_disk.st_ino != self._ino:
            self._open()
            self._size = -1  # unknown: read the end below
        size = os.fstat(self._fh.fileno()).st_size
        if size == self._size:
            return
        if 0 <= self._size < size:
            # Another process appended whole lines after ours: read only what it added.
            with open(self.path, "rb") as fh:
                fh.seek(self._size)
                added = fh.read(size - self._size)
            if added.endswith(b"\n"):
                self._prev = line_hash(added.rstrip(b"\n").rsplit(b"\n", 1)[-1])
                self._size, self._lines = size, self._lines + added.count(b"\n")
                return
        torn = self._recover_torn_tail(size)
        if torn:
            size = os.fstat(self._fh.fileno()).st_size
        last = last_line(self.path) if size else None
        if last is None:
            rotated = rotated_files(self.path)
            last = last_line(rotated[-1]) if rotated else None
        self._prev = line_hash(last) if last else GENESIS
        self._size, self._lines = size, _count_lines(self.path)
        gap = self._gap_since_head()
        if torn:
            self._append([records.recovery(torn)])
        if gap:
            self._append([records.gap(**gap)])

    def _gap_since_head(self) -> dict[str, Any] | None:
        """Compare the end of the log with what the head file says was written last.

        A log cut short (or its newest file removed, or its head deleted) while the gateway was stopped would
        otherwise be carried on from its new end, and the next head would hide the cut. Instead the gateway
        writes a `gap` record saying what it found, and `spin audit verify` reports it.
        """
        data = os.pread(self._headfd, 2 * HEAD_SLOT, 0)
        slots = read_head_slots(data)
        if self._key is not None:
            slots = [s for s in slots if isinstance(s.get("mac"), str)
                     and any(hmac.compare_digest(s["mac"], head_mac(k, s)) for k in keys_for(self._ring, s.get("key_id")))]
        if not slots:
            if self._prev == GENESIS and not data.strip():
                return None  # a new log
            why = "missing or empty" if not data.strip() else "unreadable or not written with the gateway's key"
            return {"detail": f"the head file was {why} while the log holds records: records cut off the end "
                              "before this point cannot be ruled out"}
        head = max(slots, key=lambda slot: slot["seq"])
        if head["hash"] == self._prev or self._holds(head["hash"]):
            return None  # the end the head names, or a head a power cut left behind the end
        return {"detail": "the log ended before the last record the head file names: records were cut off the "
                          "end, or the newest file removed, while the gateway was stopped",
                "head_record_id": head.get("record_id"), "head_file": head.get("file"), "head_line": head.get("line")}

    def _holds(self, wanted: str) -> bool:
        """Whether a line of the current file (or the last rotated one) hashes to `wanted`; read only on a mismatch."""
        rotated = rotated_files(self.path)
        for file in [self.path, *rotated[-1:]]:
            try:
                with open(file, "rb") as fh:
                    if any(line_hash(raw) == wanted for raw in fh):
                        return True
            except FileNotFoundError:
                continue
        return False

    def _recover_torn_tail(self, size: int) -> bytes:
        """A crash mid-write (power loss) can leave a partial last line: cut it off and return its bytes."""
        if size == 0:
            return b""
        with open(self.path, "rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return b""
            # Only the last line can be torn; read back just far enough to find its start.
            pos, tail = size, b""
            while pos > 0 and b"\n" not in tail:
                step = min(65536, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
        cut = tail.rfind(b"\n") + 1
        keep = pos + cut
        try:
            os.truncate(self.path, keep)
        except OSError as exc:
            raise AuditError(f"cannot repair the audit log {self.path}: {exc.strerror}") from None
        return tail[cut:]

    # -- writing -------------------------------------------------------------------------------

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append one record; returns it as written (with time, id and chain fields)."""
        return self.write_many([record])[0]

    def write_many(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append several records with one fsync (a plan's decisions): all are on disk when this returns."""
        if not records:
            return []
        with self._lock, self._exclusive():
            self._rekey()
            self._catch_up()
            written, lines = self._append(records, sync=False)
            self._written += 1
            mine = self._written
            if self._stream is not None:
                # Under the flock too: worker processes sharing one stdout never interleave inside a line,
                # and the pipeline sees the file's order.
                try:
                    self._stream.write(b"".join(line + b"\n" for line in lines).decode())
                    self._stream.flush()
                except (OSError, ValueError):
                    pass  # the file is the record; the pipeline copy is best effort
        if self.fsync:
            self._durable(mine, written)
        return written

    def _durable(self, mine: int, written: list[dict[str, Any]]) -> None:
        """Return once an fsync that began after write number `mine` has finished (group commit)."""
        with self._sync:
            while True:
                # After a failed fsync Linux may drop the dirty pages: a later fsync that succeeds proves nothing
                # for the writes the failed one covered, so they fail (refusing a write that did reach the disk
                # is the safe way to be wrong).
                if self._failed_upto >= mine:
                    self._refuse_unsynced(written, self._failed_why)
                if self._synced >= mine:
                    return
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True  # this writer syncs for everyone written so far
                self._sync.release()
                error, target = None, mine
                try:
                    with self._lock:  # which writes the fsync covers, and a descriptor a rotation cannot close
                        target = self._written
                        fd = os.dup(self._fh.fileno())
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                except OSError as exc:
                    error = exc.strerror or str(exc)
                finally:
                    self._sync.acquire()
                    self._syncing = False
                    self._sync.notify_all()
                if error is not None:
                    self._failed_upto, self._failed_why = max(self._failed_upto, target), error
                else:
                    self._synced = max(self._synced, target)

    def _refuse_unsynced(self, written: list[dict[str, Any]], why: str) -> None:
        log.error("audit fsync failed (%s): %d record(s) of request(s) %s are not known to be on disk", why,
                  len(written), ",".join(sorted({str(r.get("request_id")) for r in written})))
        raise AuditError(f"cannot write the audit log {self.path}: fsync failed: {why}", hint=AuditError.default_hint)

    def _append(self, records: list[dict[str, Any]], *, sync: bool = True) -> tuple[list[dict[str, Any]], list[bytes]]:
        lines, written = [], []
        prev = self._prev
        for record in records:
            full = {
                "schema_version": SCHEMA_VERSION,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "record_id": uuid.uuid4().hex,
                **record,
                "prev": prev,
            }
            if self.replica is not None:
                full["replica"] = self.replica
            if self._key is not None:
                full["key_id"] = self._key_id
            line = render(full)
            if self._key is not None:
                full["mac"] = record_mac(self._key, line)
                line = render(full)
            prev = line_hash(line)
            lines.append(line)
            written.append(full)
        blob = b"".join(line + b"\n" for line in lines)
        if self.max_bytes and self._size > 0 and self._size + len(blob) > self.max_bytes:
            self._rotate()
        start = self._size
        try:
            # One write(2) of whole lines on an O_APPEND file: a killed process leaves whole lines or none.
            done = self._fh.write(blob)
            while done < len(blob):  # a short write (disk nearly full): the next one says why it stopped
                more = self._fh.write(blob[done:])
                if not more:
                    raise OSError(errno.EIO, f"short write ({done} of {len(blob)} bytes)")
                done += more
            if self.fsync and sync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self._cut_back(start)
            # The records cannot be kept; say so in the gateway's own log, where operators look first.
            log.error("audit write failed (%s): %d record(s) of request(s) %s could not be written",
                      exc.strerror or exc, len(records), ",".join(sorted({str(r.get("request_id")) for r in records})))
            raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror or exc}",
                             hint=AuditError.default_hint) from None
        self._size += len(blob)
        self._lines += len(lines)
        self._prev = prev
        self._write_head(written[-1]["record_id"])
        return written, lines

    def _cut_back(self, size: int) -> None:
        """A failed write may have left part of a line: remove it so the next record follows a whole one."""
        try:
            os.ftruncate(self._fh.fileno(), size)
        except OSError:
            self._size = -1  # could not repair now: the next write re-reads the end and records the torn bytes

    def _write_head(self, record_id: str) -> None:
        """Name the last record (HMAC'd): a log cut short ends before it, and verify says so.

        Written in place (one pwrite into the slot after the newest) and not fsynced: a rename per
        write costs milliseconds on ext4, and a SIGKILL cannot lose a pwrite (the page cache survives
        the process). After a power cut the head may name an earlier record, which verify accepts.
        """
        try:
            slots = read_head_slots(os.pread(self._headfd, 2 * HEAD_SLOT, 0))
            seq = max((slot["seq"] for slot in slots), default=0) + 1
            head = {"schema_version": SCHEMA_VERSION, "seq": seq, "file": self.path.name, "line": self._lines,
                    "record_id": record_id, "hash": self._prev,
                    "time": datetime.now(UTC).isoformat(timespec="microseconds")}
            if self._key is not None:
                head["key_id"] = self._key_id
                head["mac"] = head_mac(self._key, head)
            line = render(head)[:HEAD_SLOT - 1]
            os.pwrite(self._headfd, line.ljust(HEAD_SLOT - 1) + b"\n", (seq % 2) * HEAD_SLOT)
        except OSError as exc:
            # The records are on disk and chained; only truncation detection would fall behind. Refuse anyway:
            # a gateway that cannot keep its head current must not go on as if it could.
            raise AuditError(f"cannot write the audit head file {head_path(self.path)}: {exc.strerror}") from None

    def _rotate(self) -> None:
        rotated = rotated_files(self.path)
        number = int(rotated[-1].name.rsplit(".", 1)[1]) + 1 if rotated else 1
        try:
            if self.fsync:  # writers waiting for a group fsync will sync the new file, not this one
                os.fsync(self._fh.fileno())
            os.rename(self.path, self.path.with_name(f"{self.path.name}.{number}"))
            self._open()
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself must survive a crash
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise AuditError(f"cannot rotate the audit log {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            os.close(self._headfd)
            os.close(self._lockfd)


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every record of the log, oldest first, across rotated files. Torn lines are skipped."""
    for file in all_files(Path(path)):
        with file.open("rb") as fh:
            for raw in fh:
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue
