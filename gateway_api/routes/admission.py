"""Kubernetes admission: the API server's AdmissionReviews, decided by the live policy (gateway_api/admission.py).

No bearer token: the API server is the caller, and the request's userInfo says for whom. The answer is an
AdmissionReview; anything else (a body that is not one, an unreadable site rule, an audit log that cannot
be written) is an error status, which the shipped configurations (failurePolicy: Fail) turn into a refusal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from spin_gateway.gateway_api.deps import SourceDep
from spin_gateway.gateway_api.routes import errors

router = APIRouter(tags=["admission"])

_REVIEW = Body(..., description="An admission.k8s.io/v1 AdmissionReview, as the API server sends it")


@router.post("/v1/admission/mutate", responses=errors(400, 422, 500, 503),
             summary="Mutating admission: the policy's patches (UID mapping, defaults) as a JSONPatch")
def mutate(request: Request, source: SourceDep, review: dict[str, Any] = _REVIEW) -> dict[str, Any]:
    return request.app.state.admission.review(review, "mutate", source)


@router.post("/v1/admission/validate", responses=errors(400, 422, 500, 503),
             summary="Validating admission: the policy's decision on the object as it will be stored")
def validate(request: Request, source: SourceDep, review: dict[str, Any] = _REVIEW) -> dict[str, Any]:
    return request.app.state.admission.review(review, "validate", source)
