"""The live policy: what it is, deciding objects with it, reloading it."""

from __future__ import annotations

from fastapi import APIRouter

from spin_gateway.gateway_api.deps import Auth, CheckAuth, GatewayDep
from spin_gateway.gateway_api.policy_eval import PolicyEvalRequest, PolicyEvalResponse
from spin_gateway.gateway_api.policy_eval import evaluate as evaluate_policy
from spin_gateway.gateway_api.routes import errors
from spin_gateway.gateway_api.schemas import PolicyInfo

router = APIRouter(tags=["policy"])


@router.get("/v1/policy", response_model=PolicyInfo, responses=errors(401))
def policy_info(who: Auth, gateway: GatewayDep) -> PolicyInfo:
    return gateway.policy_info()


@router.post("/v1/policy/eval", response_model=PolicyEvalResponse, responses=errors(401, 403, 404, 422, 503),
             summary="Decide Kubernetes objects with the live policy (dry run, audited; admins may name another user)")
def policy_eval(who: CheckAuth, gateway: GatewayDep, body: PolicyEvalRequest) -> PolicyEvalResponse:
    return evaluate_policy(gateway, who, body)


@router.post("/v1/policy/reload", response_model=PolicyInfo, responses=errors(401, 403, 500))
def policy_reload(who: Auth, gateway: GatewayDep) -> PolicyInfo:
    return gateway.reload_policy(who)
