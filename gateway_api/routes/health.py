"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from spin_gateway.gateway_api.deps import GatewayDep
from spin_gateway.gateway_api.routes import errors
from spin_gateway.gateway_api.schemas import Health

router = APIRouter(tags=["health"])


# async: liveness must answer while every pool thread is busy deciding (benchmarks/, docs/performance.md)
@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={**errors(503), 503: {
    "model": Health, "description": "Not ready, and why in checks: e.g. the policy files on disk fail to load "
                                    "(policy_reload; the live revision keeps deciding)"}})
def readyz(gateway: GatewayDep):
    health = gateway.readiness()
    if health.status != "ready":
        return JSONResponse(health.model_dump(), status_code=503)
    return health
