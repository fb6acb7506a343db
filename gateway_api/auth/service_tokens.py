"""Service tokens for facility systems (job prologues): scoped, expiring, revocable, listed; and the
revocation list of user tokens (`spin logout`, `spin token revoke --user`).

The token itself is a signed JWT whose claims carry its scope; the registry lists what was issued and
which ids are revoked, so a revoked token is refused even before it expires. It never holds a token
string, only ids. Two stores keep it behind one interface (TokenStore): a JSON file in the state folder
(one machine, several workers: FileTokenStore, here) and a Secret in Kubernetes (several replicas:
KubeTokenStore, kube_tokens.py). Both change it the same way (Registry's methods below) and both answer
checks from memory.
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


#: Service token records stay listed this long after they expired, then the registry forgets them.
KEEP_EXPIRED = 7 * 86400


class RevokedToken(BaseModel):
    """A user token revoked by id (`spin logout`); kept until it would have expired anyway."""

    id: str
    user: str
    expires_at: int
    revoked_at: int


class Registry(BaseModel):
    """What a store holds. Its methods are the changes; a store runs them read-modify-write, atomically."""

    tokens: dict[str, TokenRecord] = Field(default_factory=dict)
    revoked_user_tokens: dict[str, RevokedToken] = Field(default_factory=dict)
    #: user -> every token of theirs issued at or before this second is refused (`spin token revoke --user`)
    user_cutoffs: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Any) -> Registry:
        """The stored form: lists of records by id (the first format held only `tokens`)."""
        return cls(tokens={r["id"]: TokenRecord.model_validate(r) for r in raw.get("tokens", [])},
                   revoked_user_tokens={r["id"]: RevokedToken.model_validate(r)
                                        for r in raw.get("revoked_user_tokens", [])},
                   user_cutoffs={str(k): int(v) for k, v in (raw.get("user_cutoffs") or {}).items()})

    def to_json(self) -> dict[str, Any]:
        return {"tokens": [r.model_dump() for r in self.tokens.values()],
                "revoked_user_tokens": [r.model_dump() for r in self.revoked_user_tokens.values()],
                "user_cutoffs": dict(self.user_cutoffs)}

    # -- changes -----------------------------------------------------------------------------------

    def add(self, record: TokenRecord) -> None:
        self.tokens[record.id] = record

    def revoke(self, token_id: str) -> TokenRecord:
        if token_id not in self.tokens:
            raise NotFound(f"no service token with id {token_id}", hint="`spin token list` shows them.")
        record = self.tokens[token_id]
        if record.revoked_at is None:
            record = self.tokens[token_id] = record.model_copy(update={"revoked_at": int(time.time())})
        return record

    def revoke_user_token(self, token_id: str, user: str, expires_at: int) -> None:
        self.revoked_user_tokens.setdefault(token_id, RevokedToken(id=token_id, user=user, expires_at=expires_at,
                                                                   revoked_at=int(time.time())))

    def revoke_user(self, user: str, cutoff: int) -> int:
        """Every token of `user` issued at or before `cutoff` (a second) is refused from now on."""
        self.user_cutoffs[user] = max(cutoff, self.user_cutoffs.get(user, 0))
        return self.user_cutoffs[user]

    def prune(self, now: int, keep_expired: int = KEEP_EXPIRED) -> None:
        """Forget what can no longer matter: revoked user tokens past their expiry, service token records
        long expired (listed for `keep_expired` seconds after, then gone). Keeps a Secret small."""
        self.revoked_user_tokens = {k: r for k, r in self.revoked_user_tokens.items() if r.expires_at > now}
        self.tokens = {k: r for k, r in self.tokens.items() if r.expires_at + keep_expired > now}

    # -- checks (from memory) ------------------------------------------------------------------------

    def check_service(self, token_id: str) -> TokenRecord:
        record = self.tokens.get(token_id)
        if record is None:
            raise AuthError("this service token is not known to the gateway")
        if record.revoked_at is not None:
            raise AuthError("this service token has been revoked", hint="Ask the gateway's administrators for a new one.")
        return record

    def check_user(self, user: str, token_id: str, issued_at: int) -> None:
        if token_id in self.revoked_user_tokens:
            raise AuthError("this token has been revoked (logged out)", hint="Run `spin login` again.")
        cutoff = self.user_cutoffs.get(user)
        if cutoff is not None and issued_at <= cutoff:
            raise AuthError("this token was revoked by an administrator (every token of the user issued before "
                            "the revocation)", hint="Run `spin login` again.")


class TokenStore(Protocol):
    """Where the registry lives. One machine: FileTokenStore; replicas: KubeTokenStore (compare-and-swap on a
    Secret's resourceVersion). Checks are answered from memory; changes are atomic read-modify-writes."""

    def add(self, record: TokenRecord) -> None: ...
    def revoke(self, token_id: str) -> TokenRecord: ...
    def list(self) -> list[TokenRecord]: ...
    def check_active(self, token_id: str) -> TokenRecord: ...
    def revoke_user_token(self, token_id: str, user: str, expires_at: int) -> None: ...
    def revoke_user(self, user: str, cutoff: int) -> int: ...
    def check_user(self, user: str, token_id: str, issued_at: int) -> None: ...


class FileTokenStore:
    """A JSON file shared by every worker process of one gateway machine.

    Each change is a read-modify-write under an exclusive flock on a lock file beside it, reading the
    file afresh inside the lock, then an atomic replace (temp file, fsync, rename, fsync of the folder):
    two workers creating or revoking at once both land. Readers take no lock (a replace is atomic) but
    re-read whenever the file's identity (inode, mtime, ctime, size) differs from what they last read,
    so a revocation made by one worker is refused by every other on its next request. The flock is
    between processes of one machine: replicas on several machines use the Kubernetes store.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = threading.Lock()  # threads of this process; the flock orders the processes
        self._seen: tuple[int, int, int, int] | None = None
        self._registry = Registry()

    @staticmethod
    def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def _read(self, *, force: bool = False) -> Registry:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._registry, self._seen = Registry(), None
            return self._registry
        except OSError as exc:
            raise AuthError(f"the service token registry cannot be read: {exc.strerror}",
                            hint="Tell the gateway's administrators.") from None
        with os.fdopen(fd, "rb") as fh:
            seen = self._identity(os.fstat(fh.fileno()))  # the file opened, not whatever the name holds now
            if force or seen != self._seen:
                try:
                    registry = Registry.from_json(json.loads(fh.read()))
                except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                    # Fail closed: if we cannot tell what is revoked, no token is accepted.
                    raise AuthError(f"the service token registry cannot be read: {type(exc).__name__}",
                                    hint="Tell the gateway's administrators.") from None
                self._registry, self._seen = registry, seen
        return self._registry

    @contextlib.contextmanager
    def _change(self) -> Iterator[Registry]:
        """The registry as on disk now, under both locks; what the block leaves in it is written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                registry = self._read(force=True).model_copy(deep=True)
                yield registry
                registry.prune(int(time.time()))
                self._write(registry)
            finally:
                os.close(fd)  # releases the flock

    def _write(self, registry: Registry) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(registry.to_json(), fh, indent=1)
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
        self._registry, self._seen = registry, self._identity(self.path.stat())

    def add(self, record: TokenRecord) -> None:
        with self._change() as registry:
            registry.add(record)

    def revoke(self, token_id: str) -> TokenRecord:
        with self._change() as registry:
            return registry.revoke(token_id)

    def revoke_user_token(self, token_id: str, user: str, expires_at: int) -> None:
        with self._change() as registry:
            registry.revoke_user_token(token_id, user, expires_at)

    def revoke_user(self, user: str, cutoff: int) -> int:
        with self._change() as registry:
            return registry.revoke_user(user, cutoff)

    def list(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._read().tokens.values(), key=lambda r: r.created_at)

    def check_active(self, token_id: str) -> TokenRecord:
        with self._lock:
            registry = self._read()
        return registry.check_service(token_id)

    def check_user(self, user: str, token_id: str, issued_at: int) -> None:
        with self._lock:
            registry = self._read()
        registry.check_user(user, token_id, issued_at)


#: The name the app and tests knew it by.
TokenRegistry = FileTokenStore
