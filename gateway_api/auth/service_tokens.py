"""Service tokens for facility systems (job prologues): scoped, expiring, revocable, listed.

The token itself is a signed JWT whose claims carry its scope; the registry
(a JSON file in the state folder, written atomically) lists what was issued
and which ids are revoked, so a revoked token is refused even before it expires.
The registry never holds the token string, only its id.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from spin_gateway.vocabulary.errors import AuthError, NotFound

OPERATIONS = ("up", "down", "check", "read")


class TokenScope(BaseModel):
    users: list[str] = Field(default_factory=list, description="Users the token may act for")
    projects: list[str] = Field(default_factory=list, description="Facility projects whose members it may act for")
    operations: list[str] = Field(default_factory=lambda: list(OPERATIONS))

    def permits(self, user: str, user_projects: list[str], operation: str) -> str | None:
        """None if permitted, else the reason it is not."""
        if operation not in self.operations:
            return f"the token may not {operation} (it may: {', '.join(self.operations)})"
        if user in self.users or set(user_projects) & set(self.projects):
            return None
        return f"the token may not act for {user}"


class TokenRecord(BaseModel):
    id: str
    name: str
    created_by: str
    created_at: int
    expires_at: int
    scope: TokenScope
    revoked_at: int | None = None


class TokenRegistry:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._records: dict[str, TokenRecord] = {}

    def _load(self) -> dict[str, TokenRecord]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return self._records
        if mtime != self._mtime:
            try:
                raw = json.loads(self.path.read_text())
                self._records = {r["id"]: TokenRecord.model_validate(r) for r in raw.get("tokens", [])}
            except (OSError, ValueError) as exc:
                # Fail closed: if we cannot tell what is revoked, no service token is accepted.
                raise AuthError(f"the service token registry cannot be read: {exc}",
                                hint="Tell the gateway's administrators.") from None
            self._mtime = mtime
        return self._records

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        with os.fdopen(fd, "w") as fh:
            json.dump({"tokens": [r.model_dump() for r in self._records.values()]}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime

    def add(self, record: TokenRecord) -> None:
        with self._lock:
            self._load()
            self._records[record.id] = record
            self._save()

    def revoke(self, token_id: str) -> TokenRecord:
        with self._lock:
            records = self._load()
            if token_id not in records:
                raise NotFound(f"no service token with id {token_id}", hint="`spin token list` shows them.")
            record = records[token_id].model_copy(update={"revoked_at": int(time.time())})
            self._records[token_id] = record
            self._save()
            return record

    def list(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._load().values(), key=lambda r: r.created_at)

    def check_active(self, token_id: str) -> TokenRecord:
        with self._lock:
            record = self._load().get(token_id)
        if record is None:
            raise AuthError("this service token is not known to the gateway")
        if record.revoked_at is not None:
            raise AuthError("this service token has been revoked", hint="Ask the gateway's administrators for a new one.")
        return record
