"""Signed, expiring bearer tokens (JWT, HS256) for users and, later, facility services.

A token is not a password: it names who it acts for, expires, and carries an
id (jti) that the audit log records and a revocation list can name.
The signing key lives in the gateway's state folder with mode 0600.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from spin_gateway.vocabulary.errors import AuthError

ISSUER = "spin-gateway"
ALGORITHM = "HS256"
DEFAULT_TTL = 12 * 3600


def load_or_create_key(path: str | Path) -> bytes:
    path = Path(path)
    if path.exists():
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise AuthError(f"the signing key {path} is too short", hint="Delete it; the gateway makes a new one.")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class TokenClaims:
    subject: str  # the user the token acts for
    kind: str  # "user" | "service"
    token_id: str
    expires_at: int
    scopes: dict = field(default_factory=dict)


class TokenSigner:
    def __init__(self, key: bytes):
        self._key = key

    def issue(self, subject: str, *, kind: str = "user", ttl: int = DEFAULT_TTL, scopes: dict | None = None,
              token_id: str | None = None) -> tuple[str, TokenClaims]:
        now = int(time.time())
        claims = TokenClaims(subject, kind, token_id or uuid.uuid4().hex, now + ttl, scopes or {})
        payload = {"iss": ISSUER, "sub": subject, "kind": kind, "jti": claims.token_id, "iat": now,
                   "exp": claims.expires_at}
        if scopes:
            payload["scopes"] = scopes
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def verify(self, token: str) -> TokenClaims:
        try:
            payload = jwt.decode(token, self._key, algorithms=[ALGORITHM], issuer=ISSUER,
                                 options={"require": ["exp", "iat", "sub", "jti"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired", hint="Run `spin login` again.") from None
        except jwt.PyJWTError:
            # Never echo the token: it may be a password pasted by mistake.
            raise AuthError("the token is not valid for this gateway") from None
        return TokenClaims(payload["sub"], payload.get("kind", "user"), payload["jti"], payload["exp"],
                           payload.get("scopes") or {})
