"""POST /v1/policy/eval: the live gateway decides Kubernetes objects, as `spin policy eval` does locally.

A dry run on the one path (identity, interceptor, patches decided again, audit
record per call); nothing is forwarded. Administrators may decide as another
user, as with `spin check --as`.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spin_gateway.gateway_api.gateway import Caller, Gateway
from spin_gateway.interceptor.intercept import RequestContext, intercept
from spin_gateway.policy.evaluate import namespace_of, summarise
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.types import Call, Decision, Plan, Violation

#: Bounds on what one object may be: the policy walks all of it, and the answer carries it back.
MAX_DEPTH = 64
MAX_NODES = 100_000


def object_problem(obj: Any) -> str | None:
    """Why this is not a Kubernetes object the policy can decide, or None.

    Checked before anything reads it: a `metadata` that is not a mapping, a name that is not text or a
    spec nested deeper than any real object made the route answer 500.
    """
    if not isinstance(obj, dict):
        return "is not a mapping"
    if not isinstance(obj.get("kind"), str) or not obj["kind"]:
        return "has no kind"
    if "apiVersion" in obj and not isinstance(obj["apiVersion"], str):
        return "has an apiVersion that is not text"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "has no metadata mapping"
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        return "has no metadata.name text"
    if "namespace" in meta and not isinstance(meta["namespace"], str):
        return "has a metadata.namespace that is not text"
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, dict)
                                      and all(isinstance(v, str) for v in value.values())):
            return f"has metadata.{key} that is not a mapping of text to text"
    stack, nodes = [(obj, 1)], 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            return f"is nested deeper than {MAX_DEPTH} levels"
        if nodes > MAX_NODES:
            return f"has more than {MAX_NODES} values"
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return None


class PolicyEvalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objects: list[dict[str, Any]] = Field(min_length=1, max_length=200, description="Kubernetes objects")

    @field_validator("objects")
    @classmethod
    def _decidable(cls, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, obj in enumerate(objects):
            problem = object_problem(obj)
            if problem:
                raise ValueError(f"objects[{i}] {problem}; send Kubernetes objects with apiVersion, kind and "
                                 "metadata.name")
        return objects
    as_user: str | None = Field(default=None, max_length=64, description="Admins only: decide as this user")
    facility_project: str | None = Field(default=None, max_length=63)
    namespace: str = Field(default="policy-eval", max_length=63,
                           description="Namespace of objects that name none (and of the project context)")


class PolicyEvalResponse(BaseModel):
    """What `spin policy eval --json` prints, decided by the live gateway."""

    allowed: bool
    violations: list[Violation]
    patches: list[dict[str, Any]]
    warnings: list[str]
    revision: str
    decisions: list[Decision]
    request_id: str
    objects: list[dict[str, Any]] = Field(description="The objects as patched by the policy")


def evaluate(gateway: Gateway, caller: Caller, body: PolicyEvalRequest) -> PolicyEvalResponse:
    identity = gateway.acting_identity(caller, body.as_user, "policy-eval", body.namespace)
    for i, obj in enumerate(body.objects):
        if not isinstance(obj.get("kind"), str) or not obj["kind"]:
            raise UsageError(f"objects[{i}] has no kind", hint="Send Kubernetes objects with apiVersion, kind and metadata.")
    namespace = namespace_of(body.objects, body.namespace)
    if body.facility_project:  # the token's limit first: the clearer reason
        gateway.require_scope(caller, "policy-eval", namespace, body.facility_project)
    fproject = gateway.filed_under(caller, identity, body.facility_project, "policy-eval", namespace)
    gateway.require_scope(caller, "policy-eval", namespace, fproject)
    plan = Plan(project=namespace, namespace=namespace, owner=identity.name, facility_project=fproject,
                calls=[Call(id=f"{i:03d}", operation="CREATE", object=o) for i, o in enumerate(body.objects)])
    ctx = RequestContext(request_id=uuid.uuid4().hex, operation="check", source=caller.source,
                         token_id=caller.token_id, token_kind=caller.token_kind,
                         on_behalf_of=identity.name if identity is not caller.identity else None)
    outcome = intercept(plan, identity, gateway.policy, gateway.audit, None, ctx, dry_run=True)
    return PolicyEvalResponse(**summarise(outcome.decisions), request_id=ctx.request_id, objects=outcome.objects)
