"""What the routes depend on, declared once: the gateway's parts, the settings, and the authenticated caller.

Every route names its caller as `Auth` (reading), `CheckAuth`, `UpAuth` or `DownAuth`: the operation is what a
service token's scope is checked against. The parts come from the app's state (app.py puts them there), so
tests and several workers build them once per app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from spin_gateway.gateway_api.auth.service_caller import service_caller
from spin_gateway.gateway_api.auth.service_tokens import TokenStore
from spin_gateway.gateway_api.auth.tokens import TokenClaims, TokenSigner
from spin_gateway.gateway_api.gateway import Caller, Gateway
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.gateway_api.source import client_source
from spin_gateway.vocabulary.errors import AuthError, NotFound


def get_gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_signer(request: Request) -> TokenSigner:
    return request.app.state.signer


def get_tokens(request: Request) -> TokenStore:
    return request.app.state.tokens


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]
TokensDep = Annotated[TokenStore, Depends(get_tokens)]


def client_address(request: Request) -> str | None:
    """The connecting address, or the client a trusted proxy names in X-Forwarded-For (gateway_api/source.py)."""
    return client_source(request, request.app.state.settings.trusted_proxies)


SourceDep = Annotated[str | None, Depends(client_address)]


def token_claims(request: Request) -> TokenClaims | None:
    """The claims of the request's user token (after `Auth` ran), None for a service token."""
    return getattr(request.state, "claims", None)


ClaimsDep = Annotated[TokenClaims | None, Depends(token_claims)]


def authenticate(request: Request, operation: str) -> Caller:
    """The caller of a request: a user's token, or a service token acting for the user X-Spin-User names."""
    gateway: Gateway = request.app.state.gateway
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("no bearer token", hint="Run `spin login`, or set SPIN_TOKEN.")
    claims = get_signer(request).verify(token.strip())
    source = client_address(request)
    if claims.kind != "service":
        # Logged out, or revoked by an administrator with every token of the user (answered from memory).
        get_tokens(request).check_user(claims.subject, claims.token_id, claims.issued_at)
        try:
            identity = gateway.identity.lookup(claims.subject)
        except NotFound:  # removed from the directory since the token was issued: the token is void
            raise AuthError(f"the token's user {claims.subject!r} is no longer known to the facility",
                            hint="Run `spin login` again, or ask the facility about your account.") from None
        # kept on the request, so the refusal handler (app.py) can name who was refused
        request.state.caller = Caller(identity=identity, token_id=claims.token_id, token_kind="user", source=source)
        request.state.claims = claims  # logout revokes this token until it would have expired
        return request.state.caller
    # A facility system acts for one user per request, within its token's scope (users and resources).
    request.state.caller = service_caller(gateway, get_tokens(request), claims, request.headers.get("x-spin-user", ""),
                                          operation, source, request.url.path)
    return request.state.caller


def _caller_for(operation: str):
    def dependency(request: Request) -> Caller:
        return authenticate(request, operation)
    return Depends(dependency)


Auth = Annotated[Caller, _caller_for("read")]
CheckAuth = Annotated[Caller, _caller_for("check")]
UpAuth = Annotated[Caller, _caller_for("up")]
DownAuth = Annotated[Caller, _caller_for("down")]
