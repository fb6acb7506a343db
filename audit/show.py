"""`spin audit show REQUEST` and GET /v1/audit/requests/{id}: one request's records with what they name.

The records say who asked and what was decided; the objects kept beside the log (objects.py) say what was
submitted (the compose model) and what each decided object was, as patched, with secrets redacted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from spin_gateway.audit.objects import ObjectStore, named_digests
from spin_gateway.audit.query import AuditFilter, Viewer, query
from spin_gateway.vocabulary.errors import NotFound, UsageError

_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def show_request(log: str | Path, request_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
    if not _REQUEST_ID.match(request_id):
        raise UsageError(f"{request_id!r} is not a request id", hint="Request ids are 32 hex digits: `spin audit` "
                         "prints them, and every answer of the gateway names its request_id.")
    records = list(query(log, AuditFilter(request_id=request_id, viewer=viewer)))
    if not records:
        raise NotFound(f"no audit record of request {request_id} among those you may read",
                       hint="`spin audit --request-id ID` lists them; administrators read everyone's.")
    store = ObjectStore.beside(log)
    missing: list[str] = []

    def kept(digest: str) -> Any:
        try:
            return store.get(digest)
        except NotFound:
            missing.append(digest)
            return None

    model_digest = next((r["model_digest"] for r in records if isinstance(r.get("model_digest"), str)), None)
    objects = []
    for r in records:
        obj = r.get("object")
        if r.get("type") == "decision" and isinstance(obj, dict) and isinstance(obj.get("digest"), str):
            objects.append({"call_id": r.get("call_id"), "kind": obj.get("kind"), "name": obj.get("name"),
                            "decision": r.get("decision"), "digest": obj["digest"], "object": kept(obj["digest"])})
    return {"request_id": request_id, "records": records, "model_digest": model_digest,
            "model": kept(model_digest) if model_digest else None, "objects": objects, "missing": missing}


def prune_objects(log: str | Path) -> tuple[int, int]:
    """Remove the kept objects that no record left in the log names: (removed, kept)."""
    named = named_digests(query(log, AuditFilter()))
    store = ObjectStore.beside(log)
    removed = store.prune(named)
    return removed, len(store.digests())
