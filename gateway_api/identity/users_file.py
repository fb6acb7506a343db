"""The embedded default identity source: a YAML users file.

    admin_group: spin-admins
    project_groups: [astro, climate]        # groups that are facility projects
    users:
      alice:
        uid: 1001
        gid: 1001
        groups: [{name: astro, gid: 5001}]
        password_hash: "scrypt$..."         # optional: `spin gateway hash-password`

Passwords are stored only as scrypt hashes and compared in constant time.
The file is re-read when it changes, so adding a user needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spin_gateway.vocabulary.errors import IdentityUnavailable, LoginRefused, NotFound
from spin_gateway.vocabulary.types import Group, Identity

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT, dklen=32)
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uid: int = Field(ge=0)
    gid: int = Field(ge=0)
    groups: list[Group] = Field(default_factory=list)
    password_hash: str | None = None


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    admin_group: str = "spin-admins"
    project_groups: list[str] = Field(default_factory=list)
    users: dict[str, UserEntry] = Field(default_factory=dict)


# Seconds between checks of the users file for changes.
STAT_TTL = 1.0

# A hash to compare against when the user does not exist, so timing does not tell who exists.
_DUMMY_HASH = hash_password("not-a-user", b"0123456789abcdef")


class UsersFileProvider:
    name = "users-file"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._checked = 0.0
        self._data = UsersFile()
        self._load()

    def _load(self) -> UsersFile:
        # A short TTL on the change check: under load a stat per request was 6.6% of the
        # gateway's busy time (py-spy, benchmarks/); an edit still shows within a second.
        now = time.monotonic()
        if self._mtime is not None and now - self._checked < STAT_TTL:
            return self._data
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            raise IdentityUnavailable(f"cannot read the users file {self.path}: {exc.strerror}") from None
        with self._lock:
            if mtime != self._mtime:
                try:
                    self._data = UsersFile.model_validate(yaml.safe_load(self.path.read_text()) or {})
                except (yaml.YAMLError, ValidationError) as exc:
                    raise IdentityUnavailable(f"the users file {self.path} is invalid: {exc}",
                                              hint="Fix the users file; the gateway re-reads it on change.") from None
                self._mtime = mtime
            return self._data

    @property
    def admin_group(self) -> str:
        return self._load().admin_group

    def _identity(self, data: UsersFile, name: str, entry: UserEntry) -> Identity:
        names = {g.name for g in entry.groups}
        return Identity(name=name, uid=entry.uid, gid=entry.gid, groups=entry.groups,
                        projects=sorted(n for n in names if n in set(data.project_groups)),
                        admin=data.admin_group in names)

    def lookup(self, username: str) -> Identity:
        data = self._load()
        entry = data.users.get(username)
        if entry is None:
            raise NotFound(f"no user named {username!r}", hint="Ask the gateway's administrators to add you.")
        return self._identity(data, username, entry)

    def authenticate(self, username: str, password: str) -> Identity:
        data = self._load()
        entry = data.users.get(username)
        stored = entry.password_hash if entry and entry.password_hash else _DUMMY_HASH
        ok = bool(password) and check_password(password, stored)
        if entry is None or not entry.password_hash or not ok:
            raise LoginRefused("wrong user name or password", account=username if entry else None,
                               uid=entry.uid if entry else None)
        return self._identity(data, username, entry)
