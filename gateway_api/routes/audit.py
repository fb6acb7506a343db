"""The audit records a caller may read, as pages or streamed JSON lines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from spin_gateway.audit.query import AuditFilter, query
from spin_gateway.audit.show import show_request
from spin_gateway.gateway_api import audit_view
from spin_gateway.gateway_api.deps import Auth, GatewayDep, SettingsDep
from spin_gateway.gateway_api.routes import errors
from spin_gateway.gateway_api.schemas import AuditPage, AuditRequest

router = APIRouter(tags=["audit"])

_NDJSON: dict[int | str, dict[str, Any]] = {200: {"content": {"application/x-ndjson": {
    "schema": {"type": "string", "description": "One audit record (JSON) per line"}}}}}


@router.get("/v1/audit", response_model=AuditPage, responses={**errors(401, 403, 404), **_NDJSON},
            summary="Decision records; administrators see everyone's, others their own and their facility projects'. "
                    "stream=true gives JSON lines")
def audit(who: Auth, gateway: GatewayDep, settings: SettingsDep,
          user: str | None = Query(None, max_length=64), project: str | None = Query(None, max_length=63),
          decision: str | None = Query(None, pattern="^(allow|deny)$"), rule: str | None = Query(None, max_length=64),
          since: datetime | None = None, until: datetime | None = None,
          type: str | None = Query(None, pattern="^(decision|forward|drift|refusal|access|token|recovery|login|reload|gap)$"),
          request_id: str | None = Query(None, pattern="^[0-9a-f]{32}$"),
          limit: int = Query(100, ge=1, le=10000), stream: bool = False,
          cursor: str | None = Query(None, pattern="^[0-9a-f]{32}$",
                                     description="next_cursor of a page: the records older than that page")):
    flt = AuditFilter(user=user, project=project, decision=decision, rule=rule, since=since, until=until, type=type,
                      request_id=request_id, viewer=audit_view.viewer_for(gateway, who, user))
    # With one chain per replica (--audit-dir), every chain the folder holds (all replicas' on a shared volume).
    records = query(settings.audit_dir or settings.audit_log, flt)
    if stream:
        return StreamingResponse((json.dumps(r, separators=(",", ":")) + "\n" for r in records),
                                 media_type="application/x-ndjson")
    return audit_view.page(records, limit, cursor)


@router.get("/v1/audit/requests/{request_id}", response_model=AuditRequest, responses=errors(401, 404, 422),
            summary="One request's records, the compose model it submitted and each object as decided "
                    "(secrets redacted), from the store beside the log")
def audit_request(who: Auth, gateway: GatewayDep, settings: SettingsDep,
                  request_id: str = Path(pattern="^[0-9a-f]{32}$")) -> AuditRequest:
    return AuditRequest(**show_request(settings.audit_dir or settings.audit_log, request_id, audit_view.viewer_for(gateway, who, None)))
