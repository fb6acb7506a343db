"""Service tokens for facility systems: administrators create, list and revoke them."""

from __future__ import annotations

from fastapi import APIRouter, Path

from spin_gateway.gateway_api.auth import accounts
from spin_gateway.gateway_api.auth.service_tokens import TokenRecord
from spin_gateway.gateway_api.deps import Auth, GatewayDep, SignerDep, TokensDep
from spin_gateway.gateway_api.routes import errors
from spin_gateway.gateway_api.schemas import ServiceTokenRequest, ServiceTokenResponse, UserRevocation

router = APIRouter(tags=["tokens"])


@router.post("/v1/tokens", response_model=ServiceTokenResponse, status_code=201, responses=errors(401, 403, 422),
             summary="Administrators: create a scoped, expiring service token for a facility system")
def create_token(who: Auth, gateway: GatewayDep, signer: SignerDep, registry: TokensDep,
                 body: ServiceTokenRequest) -> ServiceTokenResponse:
    return accounts.create_service_token(gateway, signer, registry, who, body)


@router.get("/v1/tokens", response_model=list[TokenRecord], responses=errors(401, 403))
def list_tokens(who: Auth, gateway: GatewayDep, registry: TokensDep) -> list[TokenRecord]:
    return accounts.list_service_tokens(gateway, registry, who)


@router.delete("/v1/tokens/{token_id}", response_model=TokenRecord, responses=errors(401, 403, 404))
def revoke_token(who: Auth, gateway: GatewayDep, registry: TokensDep,
                 token_id: str = Path(pattern="^[0-9a-f]{32}$")) -> TokenRecord:
    return accounts.revoke_service_token(gateway, registry, who, token_id)


@router.delete("/v1/users/{user}/tokens", response_model=UserRevocation, responses=errors(401, 403),
               summary="Administrators: revoke every token of a user issued up to now (their logins and any "
                       "minted for them); they log in again for a new one")
def revoke_user_tokens(who: Auth, gateway: GatewayDep, registry: TokensDep,
                       user: str = Path(min_length=1, max_length=64)) -> UserRevocation:
    return accounts.revoke_user_tokens(gateway, registry, who, user)
