"""Logging in, and who the caller is."""

from __future__ import annotations

from fastapi import APIRouter

from spin_gateway.gateway_api.auth import accounts
from spin_gateway.gateway_api.deps import Auth, ClaimsDep, GatewayDep, SettingsDep, SignerDep, SourceDep, TokensDep
from spin_gateway.gateway_api.routes import errors
from spin_gateway.gateway_api.schemas import LoginRequest, LogoutResponse, TokenResponse, WhoAmI

router = APIRouter(tags=["auth"])


@router.post("/v1/login", response_model=TokenResponse, responses=errors(401, 503))
def login(body: LoginRequest, gateway: GatewayDep, signer: SignerDep, settings: SettingsDep,
          source: SourceDep) -> TokenResponse:
    return accounts.login(gateway, signer, body.username, body.password, ttl=settings.token_ttl, source=source)


@router.get("/v1/whoami", response_model=WhoAmI, responses=errors(401))
def whoami(who: Auth) -> WhoAmI:
    return accounts.whoami(who)


@router.post("/v1/logout", response_model=LogoutResponse, responses=errors(401, 403),
             summary="Revoke the token this request carries (a user's own): every replica refuses it from then on")
def logout(who: Auth, claims: ClaimsDep, gateway: GatewayDep, registry: TokensDep) -> LogoutResponse:
    return accounts.logout(gateway, registry, who, claims)
