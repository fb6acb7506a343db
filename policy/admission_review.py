"""Kubernetes' AdmissionReview (admission.k8s.io/v1), read and answered: the webhook's wire format, kept pure.

    review JSON -> ReviewRequest (validated, bounded) -> ... decided by decide.py ... -> review_response()

The gateway's admission routes (gateway_api/admission.py) map the caller to a facility identity and the
namespace to its project; this module only knows the format. A review it cannot read is an error (the
API server then refuses the call: the shipped configurations use failurePolicy Fail).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.types import Call

API_VERSION = "admission.k8s.io/v1"
OPERATIONS = ("CREATE", "UPDATE", "DELETE")
#: Kubernetes shows each warning as one line; longer ones may be cut (k8s.io/apiserver truncates at 256).
MAX_WARNING = 256
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class ReviewRequest:
    uid: str
    operation: str
    kind: dict[str, str]
    namespace: str
    name: str
    username: str
    groups: list[str] = field(default_factory=list)
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    dry_run: bool = False
    sub_resource: str = ""

    @property
    def service_account(self) -> str | None:
        """`namespace:name` for a service account's username, else None."""
        if not self.username.startswith(SERVICE_ACCOUNT_PREFIX):
            return None
        return self.username[len(SERVICE_ACCOUNT_PREFIX):]

    @property
    def subject(self) -> dict[str, Any]:
        """The object as the call names it: the new one, or (DELETE) the one being removed."""
        return self.object if self.operation != "DELETE" and self.object else (self.old_object or self.object or {})

    def annotation(self, key: str) -> str | None:
        value = (self.subject.get("metadata") or {}).get("annotations", {}) or {}
        found = value.get(key) if isinstance(value, dict) else None
        return found if isinstance(found, str) else None

    def labels(self, of: dict[str, Any] | None = None) -> dict[str, str]:
        labels = ((of if of is not None else self.subject).get("metadata") or {}).get("labels") or {}
        return {k: v for k, v in labels.items() if isinstance(v, str)} if isinstance(labels, dict) else {}

    def call(self) -> Call:
        """The call as the gateway's interceptor would have it: DELETE carries the object being removed."""
        obj = self.subject
        if not obj:  # a DELETE whose old object the API server did not send: named, not described
            group, version = self.kind.get("group", ""), self.kind.get("version", "")
            obj = {"apiVersion": f"{group}/{version}" if group else version, "kind": self.kind.get("kind", ""),
                   "metadata": {"name": self.name, "namespace": self.namespace}}
        obj = dict(obj)
        meta = dict(obj.get("metadata") or {})
        # generateName: the API server names the object after admission; decide it under the name it asks for.
        meta.setdefault("name", self.name or meta.get("generateName", ""))
        if self.namespace:
            meta.setdefault("namespace", self.namespace)
        obj["metadata"] = meta
        return Call(id=self.uid, operation=self.operation, object=obj)  # type: ignore[arg-type]


def _text(value: Any, what: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise UsageError(f"AdmissionReview {what} must be a non-empty string",
                         hint="The body must be an admission.k8s.io/v1 AdmissionReview from the API server.")
    return value


def parse_review(body: Any) -> ReviewRequest:
    """The request of an AdmissionReview; UsageError (400) for anything that is not one."""
    if not isinstance(body, dict) or body.get("kind") != "AdmissionReview":
        raise UsageError("the body is not an AdmissionReview",
                         hint="Point a Validating/MutatingWebhookConfiguration here (`spin gateway webhook-config`).")
    if body.get("apiVersion") != API_VERSION:
        raise UsageError(f"AdmissionReview apiVersion {body.get('apiVersion')!r} is not {API_VERSION}",
                         hint="Set admissionReviewVersions: [v1] in the webhook configuration.")
    req = body.get("request")
    if not isinstance(req, dict):
        raise UsageError("the AdmissionReview has no request")
    operation = _text(req.get("operation"), "request.operation")
    if operation not in OPERATIONS:
        raise UsageError(f"AdmissionReview operation {operation!r} is not decided here (only {', '.join(OPERATIONS)})",
                         hint="List only CREATE, UPDATE and DELETE in the webhook's rules.")
    kind = req.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str):
        raise UsageError("AdmissionReview request.kind must be {group, version, kind}")
    user = req.get("userInfo")
    if not isinstance(user, dict):
        raise UsageError("AdmissionReview request.userInfo is missing")
    groups = user.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise UsageError("AdmissionReview request.userInfo.groups must be a list of strings")
    obj, old = req.get("object"), req.get("oldObject")
    for value, what in ((obj, "object"), (old, "oldObject")):
        if value is not None and not isinstance(value, dict):
            raise UsageError(f"AdmissionReview request.{what} must be an object")
    if operation != "DELETE" and not obj:
        raise UsageError(f"AdmissionReview {operation} has no request.object")
    return ReviewRequest(
        uid=_text(req.get("uid"), "request.uid"), operation=operation,
        kind={k: str(kind.get(k, "")) for k in ("group", "version", "kind")},
        namespace=_text(req.get("namespace"), "request.namespace", required=False),
        name=_text(req.get("name"), "request.name", required=False),
        username=_text(user.get("username"), "request.userInfo.username"), groups=list(groups),
        object=obj, old_object=old, dry_run=bool(req.get("dryRun")),
        sub_resource=_text(req.get("subResource"), "request.subResource", required=False))


def review_response(uid: str, *, allowed: bool, message: str = "", patches: list[dict[str, Any]] | None = None,
                    warnings: list[str] | None = None, code: int = 403) -> dict[str, Any]:
    """The AdmissionReview answer: patches as base64 JSONPatch, warnings as admission warnings."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {"code": code, "message": message, "reason": "Forbidden" if code == 403 else ""}
    if allowed and patches:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patches, separators=(",", ":")).encode()).decode()
    if warnings:
        response["warnings"] = [w if len(w) <= MAX_WARNING else w[:MAX_WARNING - 3] + "..." for w in warnings]
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


__all__ = ["API_VERSION", "ReviewRequest", "parse_review", "review_response"]
