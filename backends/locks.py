"""Per-project locks and the journal of the operation that holds one: the small interface, and a file lock.

One `up` or `down` of a project at a time, however many gateway processes run:

- `FileLocks` (podman, manifests: one machine) takes an `flock` on `<state-dir>/locks/<namespace>.lock`.
  Each acquisition opens its own file description, so it serialises threads of one worker, several
  `--workers` and several gateways sharing the state directory alike; the kernel drops the lock of a
  process that dies.
- `LeaseLocks` (backends/leases.py, Kubernetes) holds a coordination.k8s.io/v1 Lease per project.

While it holds the lock an operation keeps a journal: what it is doing (operation, request, whether the
project is new, the objects of its plan) and how far it got. The holder clears it when it finishes, failed
or not: only a process that died mid-way leaves one. The next holder, on any replica, is handed that
unfinished journal (`Held.unfinished`), completes or rolls back the project, and audits what it did.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from spin_gateway.vocabulary.errors import Conflict

#: How long a request waits for another request's lock on the same project before it gives up.
DEFAULT_WAIT_SECONDS = 120.0


def replica_name() -> str:
    """This gateway replica's name: SPIN_REPLICA, else the host name (a pod's name in a Deployment)."""
    return os.environ.get("SPIN_REPLICA") or socket.gethostname()


def holder_identity() -> str:
    """Who holds a lock: the replica and the process (several `--workers` are several processes)."""
    return f"{replica_name()}/pid-{os.getpid()}"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Journal:
    """The operation in progress on a project, as its lock holder records it."""

    operation: str  # up | down
    request_id: str
    holder: str
    #: True when the project did not exist before this operation (a first `up`): undoing it means removing it.
    new_project: bool
    #: "Kind/name" of every object of the plan, in apply order.
    objects: list[str] = field(default_factory=list)
    #: planned -> forwarding -> rolling-back; a journal that is still there means its holder never finished.
    phase: str = "planned"
    started: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> Journal | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            return cls(**known)
        except (ValueError, TypeError, KeyError):
            # Unreadable (a torn write on a full disk): still an unfinished operation, of unknown shape.
            return cls(operation="unknown", request_id="", holder="", new_project=False, phase="unknown")


class Held(Protocol):
    """A project lock while it is held."""

    holder: str
    #: How long the request waited for the lock (another operation on the same project held it).
    waited: float
    #: The journal a holder that died left behind (None: the last operation finished).
    unfinished: Journal | None

    def record(self, journal: Journal | None) -> None:
        """Write (or, with None, clear) this operation's journal where the next holder will find it."""

    def retire(self) -> None:
        """The project is gone (a finished `down`): its lock may be removed instead of released."""


class ProjectLocks(Protocol):
    """One operation per project at a time, across threads, processes and replicas."""

    def hold(self, namespace: str, *, wait: float | None = None) -> contextlib.AbstractContextManager[Held]:
        """Block until the project's lock is ours (at most `wait` seconds, else Conflict), yield it, release it."""


@dataclass
class _NotHeld:
    """What an operation that changes nothing (a dry run) holds: no lock, no journal to find or write."""

    holder: str = ""
    waited: float = 0.0
    unfinished: Journal | None = None

    def record(self, journal: Journal | None) -> None:
        pass

    def retire(self) -> None:
        pass


NOT_HELD: Held = _NotHeld()


def busy(namespace: str, holder: str, waited: float, since: str = "") -> Conflict:
    held = f"{holder} has held it{f' since {since}' if since else ''}" if holder else "another request holds it"
    return Conflict(f"project {namespace} is busy: another `up` or `down` of it is running ({held}); "
                    f"waited {waited:.0f}s",
                    hint="Run the command again once that operation has finished (`spin ps` shows the project).")


@dataclass
class _FileHeld:
    holder: str
    waited: float
    unfinished: Journal | None
    journal_path: Path

    def record(self, journal: Journal | None) -> None:
        if journal is None:
            self.journal_path.unlink(missing_ok=True)
            return
        journal.updated = now_iso()
        # Atomic and durable: a crash leaves the old journal or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=self.journal_path.parent, prefix=".journal-")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(journal.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.journal_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def retire(self) -> None:
        """Kept: removing a lock file others may be waiting on would hand them a lock nobody else sees."""


class FileLocks:
    """flock(2) per project in the state directory: one machine, any number of threads and processes."""

    def __init__(self, state_dir: str | Path, *, wait: float = DEFAULT_WAIT_SECONDS, poll: float = 0.05):
        self.dir = Path(state_dir) / "locks"
        self.wait = wait
        self.poll = poll
        self._made = False
        self._guard = threading.Lock()

    def _ensure_dir(self) -> None:
        with self._guard:
            if not self._made:
                self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._made = True

    @contextlib.contextmanager
    def hold(self, namespace: str, *, wait: float | None = None) -> Iterator[Held]:
        self._ensure_dir()
        # Namespace names are DNS-1123 labels (checked before any lock is taken): the path stays in the folder.
        path = self.dir / f"{namespace}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            began = time.monotonic()
            deadline = began + (self.wait if wait is None else wait)
            waited = 0.0  # only time another request held it
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - began
                    if time.monotonic() >= deadline:
                        raise busy(namespace, _read_holder(fd), waited) from None
                    time.sleep(self.poll)
            me = holder_identity()
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{me} {now_iso()}\n".encode(), 0)
            journal_path = self.dir / f"{namespace}.journal"
            unfinished = Journal.from_json(journal_path.read_text()) if journal_path.exists() else None
            held = _FileHeld(me, waited, unfinished, journal_path)
            try:
                yield held
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


class InProcessLocks:
    """Threads of one process only: for tests and tools that run a Gateway without a state directory."""

    def __init__(self, wait: float = DEFAULT_WAIT_SECONDS):
        self.wait = wait
        self._locks: dict[str, threading.Lock] = {}
        self._journals: dict[str, Journal] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, namespace: str, *, wait: float | None = None) -> Iterator[Held]:
        with self._guard:
            lock = self._locks.setdefault(namespace, threading.Lock())
        began = time.monotonic()
        free = lock.acquire(blocking=False)
        if not free and not lock.acquire(timeout=self.wait if wait is None else wait):
            raise busy(namespace, "", time.monotonic() - began)
        try:
            journals = self._journals

            class _Held:
                holder = holder_identity()
                waited = 0.0 if free else time.monotonic() - began
                unfinished = journals.get(namespace)

                def record(self, journal: Journal | None) -> None:
                    if journal is None:
                        journals.pop(namespace, None)
                    else:
                        journals[namespace] = journal

                def retire(self) -> None:
                    pass

            yield _Held()
        finally:
            lock.release()


def journal_objects(calls: list[Any]) -> list[str]:
    return [f"{c.kind}/{c.name}" for c in calls]


__all__ = ["DEFAULT_WAIT_SECONDS", "FileLocks", "Held", "InProcessLocks", "Journal", "ProjectLocks", "busy",
           "holder_identity", "journal_objects", "replica_name"]
