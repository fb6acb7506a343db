"""Identity providers: who a name is (uid, gid, groups, projects) and whether a password is theirs."""

from __future__ import annotations

from typing import Protocol

from spin_gateway.vocabulary.types import Identity


class IdentityProvider(Protocol):
    name: str

    def lookup(self, username: str) -> Identity:
        """The user's identity; NotFound if no such user, IdentityUnavailable if the source is down."""

    def authenticate(self, username: str, password: str) -> Identity:
        """Check the password (never stored or logged) and return the identity; AuthError if wrong."""
