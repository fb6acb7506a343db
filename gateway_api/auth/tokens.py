"""Signed, expiring bearer tokens (JWT, HS256) for users and, later, facility services.

A token is not a password: it names who it acts for, expires, and carries an
id (jti) that the audit log records and a revocation list can name.
The signing key lives in the gateway's state folder with mode 0600, or comes from a key ring (a mounted
Secret, vocabulary/keys.py): each token names the key that signed it in its header (`kid`), every key of
the ring verifies the tokens it signed, and a rotated ring is picked up without a restart.
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
from spin_gateway.vocabulary.keys import KeyRing, RingSource

ISSUER = "spin-gateway"
ALGORITHM = "HS256"
DEFAULT_TTL = 12 * 3600
_UNSEEN = object()


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
    issued_at: int = 0  # a user's revocation ("every token issued before now") compares against it
    key_id: str = ""


class TokenSigner:
    """Signs with the ring's current key; verifies with whichever key of the ring the token's `kid` names."""

    def __init__(self, key: bytes | KeyRing | RingSource):
        self._source = key if isinstance(key, RingSource) else None
        self._ring = KeyRing.single(key) if isinstance(key, bytes) else key if isinstance(key, KeyRing) else None
        self._kids: dict[str, object] = {}

    def ring(self) -> KeyRing:
        if self._source is not None:
            return self._source.get()
        assert self._ring is not None
        return self._ring

    def issue(self, subject: str, *, kind: str = "user", ttl: int = DEFAULT_TTL, scopes: dict | None = None,
              token_id: str | None = None) -> tuple[str, TokenClaims]:
        now = int(time.time())
        claims = TokenClaims(subject, kind, token_id or uuid.uuid4().hex, now + ttl, scopes or {})
        payload = {"iss": ISSUER, "sub": subject, "kind": kind, "jti": claims.token_id, "iat": now,
                   "exp": claims.expires_at}
        if scopes:
            payload["scopes"] = scopes
        ring = self.ring()
        claims = TokenClaims(claims.subject, kind, claims.token_id, claims.expires_at, claims.scopes, now, ring.current)
        return jwt.encode(payload, ring.key, algorithm=ALGORITHM, headers={"kid": ring.current}), claims

    def _kid(self, token: str) -> object:
        """The header's kid. Every token one key signed has the same header, so it is parsed once per key."""
        segment = token.split(".", 1)[0]
        kid = self._kids.get(segment, _UNSEEN)
        if kid is _UNSEEN:
            try:
                kid = jwt.get_unverified_header(token).get("kid")
            except jwt.PyJWTError:
                raise AuthError("the token is not valid for this gateway") from None
            if len(self._kids) < 256:  # bounded: forged headers cannot grow it
                self._kids[segment] = kid
        return kid

    def verify(self, token: str) -> TokenClaims:
        ring = self.ring()
        kid = self._kid(token)
        if kid is None:  # issued before tokens carried a key id: whichever key of the ring signed it
            candidates = list(ring.keys.values())
        elif isinstance(kid, str) and kid in ring.keys:
            candidates = [ring.keys[kid]]
        else:
            raise AuthError("the token was signed with a key this gateway no longer holds (rotated out)",
                            hint="Run `spin login` again.")
        for number, key in enumerate(candidates, start=1):
            try:
                payload = self._decode(token, key)
            except jwt.InvalidSignatureError:
                if number < len(candidates):
                    continue
                raise AuthError("the token is not valid for this gateway") from None
            return TokenClaims(payload["sub"], payload.get("kind", "user"), payload["jti"], payload["exp"],
                               payload.get("scopes") or {}, int(payload["iat"]), kid or "")
        raise AuthError("the token is not valid for this gateway")

    @staticmethod
    def _decode(token: str, key: bytes) -> dict:
        try:
            return jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER,
                              options={"require": ["exp", "iat", "sub", "jti"]})
        except jwt.InvalidSignatureError:
            raise
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired", hint="Run `spin login` again.") from None
        except jwt.PyJWTError:
            # Never echo the token: it may be a password pasted by mistake.
            raise AuthError("the token is not valid for this gateway") from None
