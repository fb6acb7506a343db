"""Service tokens for facility systems (job prologues): scoped, expiring, revocable, listed.

The token itself is a signed JWT whose claims carry its scope; the registry
(a JSON file in the state folder, written atomically) lists what was issued
and which ids are revoked, so a revoked token is refused even before it expires.
The registry never holds the token string, only its id.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from spin_gateway.vocabulary.errors import AuthError, NotFound
from spin_gateway.vocabulary.types import Identity

OPERATIONS = ("up", "down", "check", "read")
Operation = Literal["up", "down", "check", "read"]


def _every_operation() -> list[Operation]:
    return ["up", "down", "check", "read"]


#: Powers a scope may grant by name. "admin": acting for an administrator carries that administrator's
#: powers (any project, others' audit records, deciding as another user); never token or reload powers.
POWERS = ("admin",)
Power = Literal["admin"]


class TokenScope(BaseModel):
    users: list[str] = Field(default_factory=list, description="Users the token may act for")
    projects: list[str] = Field(default_factory=list,
                                description="Facility projects whose members it may act for; when set, also the only "
                                            "facility projects whose compose projects it may read or change")
    operations: list[Operation] = Field(default_factory=_every_operation)
    powers: list[Power] = Field(default_factory=list, description="Named powers beyond the user's own: `admin`. "
                                                                "Default none: a token never inherits admin powers")

    def permits(self, user: str, user_projects: list[str], operation: str) -> str | None:
        """None if permitted, else the reason it is not."""
        if operation not in self.operations:
            return f"the token may not {operation} (it may: {', '.join(self.operations)})"
        if user in self.users or set(user_projects) & set(self.projects):
            return None
        return f"the token may not act for {user}"

    def covers(self, facility_project: str) -> bool:
        """Whether a compose project filed under facility_project is within the token's resources."""
        return not self.projects or facility_project in self.projects

    def narrow(self, identity: Identity, admin_groups: set[str]) -> Identity:
        """The identity the token acts with: the user's, cut to the scope.

        Its facility projects are those the scope names (the Rego namespace rule and the gateway's access
        checks then agree), and without the `admin` power it is no administrator: the admin flag goes, and
        so do the groups that make one (the Rego rules read admin from the groups).
        """
        update: dict[str, Any] = {}
        if self.projects:
            update["projects"] = [p for p in identity.projects if p in self.projects]
        if "admin" not in self.powers:
            update["admin"] = False
            update["groups"] = [g for g in identity.groups if g.name not in admin_groups]
        return identity.model_copy(update=update)


class TokenRecord(BaseModel):
    id: str
    name: str
    created_by: str
    created_at: int
    expires_at: int
    scope: TokenScope
    revoked_at: int | None = None


class TokenStore(Protocol):
    """Where service token records live. One machine: FileTokenStore; replicas need a store with
    compare-and-swap (issue #16), behind these four calls."""

    def add(self, record: TokenRecord) -> None: ...
    def revoke(self, token_id: str) -> TokenRecord: ...
    def list(self) -> list[TokenRecord]: ...
    def check_active(self, token_id: str) -> TokenRecord: ...


class FileTokenStore:
    """A JSON file shared by every worker process of one gateway machine.

    Each change is a read-modify-write under an exclusive flock on a lock file beside it, reading the
    file afresh inside the lock, then an atomic replace (temp file, fsync, rename, fsync of the folder):
    two workers creating or revoking at once both land. Readers take no lock (a replace is atomic) but
    re-read whenever the file's identity (inode, mtime, ctime, size) differs from what they last read,
    so a revocation made by one worker is refused by every other on its next request.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = threading.Lock()  # threads of this process; the flock orders the processes
        self._seen: tuple[int, int, int, int] | None = None
        self._records: dict[str, TokenRecord] = {}

    @staticmethod
    def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def _read(self, *, force: bool = False) -> dict[str, TokenRecord]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._records, self._seen = {}, None
            return self._records
        except OSError as exc:
            raise AuthError(f"the service token registry cannot be read: {exc.strerror}",
                            hint="Tell the gateway's administrators.") from None
        with os.fdopen(fd, "rb") as fh:
            seen = self._identity(os.fstat(fh.fileno()))  # the file opened, not whatever the name holds now
            if force or seen != self._seen:
                try:
                    raw = json.loads(fh.read())
                    records = {r["id"]: TokenRecord.model_validate(r) for r in raw.get("tokens", [])}
                except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                    # Fail closed: if we cannot tell what is revoked, no service token is accepted.
                    raise AuthError(f"the service token registry cannot be read: {type(exc).__name__}",
                                    hint="Tell the gateway's administrators.") from None
                self._records, self._seen = records, seen
        return self._records

    @contextlib.contextmanager
    def _change(self) -> Iterator[dict[str, TokenRecord]]:
        """The records as on disk now, under both locks; what the block leaves in them is written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                records = dict(self._read(force=True))
                yield records
                self._write(records)
            finally:
                os.close(fd)  # releases the flock

    def _write(self, records: dict[str, TokenRecord]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump({"tokens": [r.model_dump() for r in records.values()]}, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dirfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)  # the rename itself survives a crash
        finally:
            os.close(dirfd)
        self._records, self._seen = records, self._identity(self.path.stat())

    def add(self, record: TokenRecord) -> None:
        with self._change() as records:
            records[record.id] = record

    def revoke(self, token_id: str) -> TokenRecord:
        with self._change() as records:
            if token_id not in records:
                raise NotFound(f"no service token with id {token_id}", hint="`spin token list` shows them.")
            record = records[token_id]
            if record.revoked_at is None:
                record = records[token_id] = record.model_copy(update={"revoked_at": int(time.time())})
            return record

    def list(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._read().values(), key=lambda r: r.created_at)

    def check_active(self, token_id: str) -> TokenRecord:
        with self._lock:
            record = self._read().get(token_id)
        if record is None:
            raise AuthError("this service token is not known to the gateway")
        if record.revoked_at is not None:
            raise AuthError("this service token has been revoked", hint="Ask the gateway's administrators for a new one.")
        return record


#: The name the app and tests know it by.
TokenRegistry = FileTokenStore
