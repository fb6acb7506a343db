"""The audit log: append-only JSON lines, fsynced, hash-chained, rotated by size.

Every record carries `prev`, the SHA-256 of the previous record's line, so
changing, removing, inserting or reordering a record breaks the chain at that
place (`spin audit verify`). The chain continues across rotation: the first
record of a new file points at the last line of the rotated one.

A record is on disk (write + fsync) before the caller goes on: the interceptor
writes the decision before forwarding and the result before answering. When
the write fails, AuditError stops the call (nothing is forwarded).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterator

import structlog

from interceptor.errors import AuditError

SCHEMA_VERSION = 1
GENESIS = "0" * 64

# structlog renders the records: one ordered, JSON-safe rendering for the
# file, the facility's log pipeline (stdout) and the hash alike.
_render = structlog.processors.JSONRenderer(sort_keys=True, separators=(",", ":"), default=str)


def render(record: dict[str, Any]) -> bytes:
    return _render(None, "", dict(record)).encode()


def record_mac(key: bytes, line_without_mac: bytes) -> str:
    """HMAC of a record: without the gateway's key, nobody can write a record that verifies."""
    return hmac.new(key, line_without_mac, hashlib.sha256).hexdigest()


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _last_line(path: Path) -> bytes | None:
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
                 fsync: bool = True, stream: IO[str] | None = None, key: bytes | None = None):
        self.path = Path(path)
        self._key = key
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._stream = stream if stream is not None else (sys.stdout if stdout else None)
        self._lock = threading.Lock()
        self._torn = b""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab", buffering=0)
            os.chmod(self.path, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from None
        self._recover_torn_tail()
        last = _last_line(self.path)
        if last is None:
            rotated = rotated_files(self.path)
            last = _last_line(rotated[-1]) if rotated else None
        self._prev = line_hash(last) if last else GENESIS
        if getattr(self, "_torn", None):
            import base64
            self.write({"type": "recovery", "detail": "a partial record from a crash was moved into this record",
                        "torn_bytes_b64": base64.b64encode(self._torn).decode()})
            self._torn = b""

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append one record; returns it as written (with time, id and chain fields)."""
        return self.write_many([record])[0]

    def write_many(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append several records with one fsync (a plan's decisions): all are on disk when this returns."""
        if not records:
            return []
        written = []
        with self._lock:
            lines = []
            prev = self._prev
            for record in records:
                full = {
                    "schema_version": SCHEMA_VERSION,
                    "time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
                    "record_id": uuid.uuid4().hex,
                    **record,
                    "prev": prev,
                }
                line = render(full)
                if self._key is not None:
                    full["mac"] = record_mac(self._key, line)
                    line = render(full)
                prev = line_hash(line)
                lines.append(line)
                written.append(full)
            blob = b"".join(line + b"\n" for line in lines)
            try:
                if self.max_bytes and self._fh.tell() > 0 and self._fh.tell() + len(blob) > self.max_bytes:
                    self._rotate()
                # One write(2) of whole lines on an O_APPEND file: a killed process leaves whole lines or none.
                self._fh.write(blob)
                if self.fsync:
                    os.fsync(self._fh.fileno())
            except OSError as exc:
                raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror}") from None
            self._prev = prev
        if self._stream is not None:
            try:
                self._stream.write(b"".join(line + b"\n" for line in lines).decode())
                self._stream.flush()
            except (OSError, ValueError):
                pass  # the file is the record; the pipeline copy is best effort
        return written

    def _recover_torn_tail(self) -> None:
        """A crash mid-write (power loss) can leave a partial last line. Keep its bytes, in a record that says so."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.path, "rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            data = fh.read()
        keep = data.rfind(b"\n") + 1
        torn = data[keep:]
        os.truncate(self.path, keep)
        self._torn = torn

    def _rotate(self) -> None:
        self._fh.close()
        rotated = rotated_files(self.path)
        number = int(rotated[-1].name.rsplit(".", 1)[1]) + 1 if rotated else 1
        os.rename(self.path, self.path.with_name(f"{self.path.name}.{number}"))
        self._fh = open(self.path, "ab", buffering=0)
        os.chmod(self.path, 0o600)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every record of the log, oldest first, across rotated files. Torn lines are skipped."""
    for file in all_files(Path(path)):
        with file.open("rb") as fh:
            for raw in fh:
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue
