"""Logging in and service tokens: issued, listed and revoked here, each audited."""

from __future__ import annotations

import time

from spin_gateway.audit import records
from spin_gateway.gateway_api.auth.names import MAX_RECORDED, name_error
from spin_gateway.gateway_api.auth.service_tokens import TokenRecord, TokenScope, TokenStore
from spin_gateway.gateway_api.auth.tokens import TokenClaims, TokenSigner
from spin_gateway.gateway_api.gateway import Caller, Gateway
from spin_gateway.gateway_api.schemas import (
    LogoutResponse,
    ServiceTokenRequest,
    ServiceTokenResponse,
    TokenResponse,
    UserRevocation,
    WhoAmI,
)
from spin_gateway.vocabulary.errors import AuthError, Forbidden, LoginRefused, NotFound
from spin_gateway.vocabulary.text import printable


def login(gateway: Gateway, signer: TokenSigner, username: str, password: str, *, ttl: int,
          source: str | None) -> TokenResponse:
    # Logins are audited, refused ones too (guessing shows in the log); the password never is.
    try:
        refused = name_error(username, "user name")  # control characters: refused before the directory sees it
        if refused:
            raise refused
        identity = gateway.identity.authenticate(username, password)
    except AuthError as exc:
        resolved = exc if isinstance(exc, LoginRefused) else None
        gateway.audit.write(records.login_refused(
            printable(username[:MAX_RECORDED]), source, exc.message,
            account=printable(resolved.account) if resolved and resolved.account is not None else None,
            uid=resolved.uid if resolved else None))
        exc.audited = True  # type: ignore[attr-defined]  # the login record is its refusal record
        raise
    token, claims = signer.issue(identity.name, ttl=ttl)
    gateway.audit.write(records.login(identity, source, claims.token_id, printable(username[:MAX_RECORDED])))
    return TokenResponse(token=token, token_id=claims.token_id, expires_at=claims.expires_at, user=identity.name)


def whoami(who: Caller) -> WhoAmI:
    i = who.identity
    return WhoAmI(name=i.name, uid=i.uid, gid=i.gid, groups=[g.model_dump() for g in i.groups],
                  projects=i.projects, admin=i.admin, token_kind=who.token_kind, token_id=who.token_id)


def create_service_token(gateway: Gateway, signer: TokenSigner, registry: TokenStore, who: Caller,
                         body: ServiceTokenRequest) -> ServiceTokenResponse:
    gateway.require_admin(who, "create service tokens")
    scope = TokenScope(users=body.users, projects=body.projects, operations=list(body.operations),
                       powers=list(body.powers))
    token, claims = signer.issue(f"service:{body.name}", kind="service", ttl=body.ttl_seconds,
                                 scopes=scope.model_dump())
    record = TokenRecord(id=claims.token_id, name=body.name, created_by=who.identity.name,
                         created_at=int(time.time()), expires_at=claims.expires_at, scope=scope)
    # On the record before it exists: a token whose creation could not be audited is never registered.
    # (Revocation goes the other way: revoked first, so an audit failure cannot keep a token alive.)
    gateway.audit.write(records.token_created(who.identity, record.id, body.name, scope.model_dump(),
                                              record.expires_at))
    registry.add(record)
    return ServiceTokenResponse(token=token, record=record)


def list_service_tokens(gateway: Gateway, registry: TokenStore, who: Caller) -> list[TokenRecord]:
    gateway.require_admin(who, "list service tokens")
    return registry.list()


def revoke_service_token(gateway: Gateway, registry: TokenStore, who: Caller, token_id: str) -> TokenRecord:
    gateway.require_admin(who, "revoke service tokens")
    record = registry.revoke(token_id)
    gateway.audit.write(records.token_revoked(who.identity, token_id))
    return record


def logout(gateway: Gateway, registry: TokenStore, who: Caller, claims: TokenClaims | None) -> LogoutResponse:
    """Revoke the caller's own token until it would have expired; every replica refuses it from then on."""
    if claims is None or who.token_kind != "user":
        gateway.deny_access(who, "logout", "/v1/logout", Forbidden(
            "a service token is not logged out; an administrator revokes it", hint="`spin token revoke ID`."))
    # Revoked first, recorded after: an audit failure must not keep a token alive (as for service tokens).
    registry.revoke_user_token(claims.token_id, claims.subject, claims.expires_at)
    gateway.audit.write(records.logout(who.identity, claims.token_id, who.source))
    return LogoutResponse(token_id=claims.token_id, user=claims.subject)


def revoke_user_tokens(gateway: Gateway, registry: TokenStore, who: Caller, name: str) -> UserRevocation:
    """Administrators: every token of the user issued up to this second is refused (on every replica)."""
    gateway.require_admin(who, "revoke users' tokens")
    refused = name_error(name, "user name")
    if refused:
        raise refused
    try:  # the account as the directory spells it (LDAP matches names case-insensitively); tokens carry that
        name = gateway.identity.lookup(name).name
    except NotFound:
        pass  # gone from the directory: its tokens fail anyway, and the revocation holds if it comes back
    cutoff = registry.revoke_user(name, int(time.time()))
    gateway.audit.write(records.user_tokens_revoked(who.identity, name, cutoff, who.source))
    return UserRevocation(user=name, revoked_before=cutoff)
