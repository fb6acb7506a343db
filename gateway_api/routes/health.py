"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from spin_gateway.gateway_api.deps import GatewayDep
from spin_gateway.gateway_api.routes import errors
from spin_gateway.gateway_api.schemas import Health

router = APIRouter(tags=["health"])


# async: liveness must answer while every pool thread is busy deciding (benchmarks/, docs/performance.md)
@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=errors(503))
def readyz(gateway: GatewayDep):
    return gateway.readiness()
