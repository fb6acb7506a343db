"""The interceptor: decide every call of a plan, audit every decision, forward only a wholly allowed plan.

    decide(call) -> patches applied -> decided again on the patched object (mutating, then validating,
    as Kubernetes admission does) -> audit record -> ... for every call -> forward only if all allowed

Policies return JSON Patch operations (e.g. UID mapping); the object that is
forwarded is the patched one, and it has itself been decided. Anything that
stops a decision (engine error, timeout, a patch that does not apply) is a
denial; an audit write that fails stops the forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from spin_gateway.audit import records
from spin_gateway.audit.log import AuditLog
from spin_gateway.audit.objects import ObjectStore
from spin_gateway.backends.base import Backend, ProjectRef
from spin_gateway.policy.decide import Decided, Decider, decide_call, undecided
from spin_gateway.vocabulary.errors import AuditError, ForwardError, RuntimeDrift, SpinError
from spin_gateway.vocabulary.types import Call, CallResult, Decision, Identity, Notice, Plan


@dataclass(frozen=True)
class RequestContext:
    """Who and what, for the audit record."""

    request_id: str
    operation: str  # up | down | check
    source: str | None = None
    token_id: str | None = None
    token_kind: str = "user"
    on_behalf_of: str | None = None
    #: The submitted compose model's digest, named on every record of the request (audit/objects.py).
    model_digest: str | None = None
    #: Where the decided objects are kept beside the log (None: not kept, e.g. a down).
    objects: ObjectStore | None = None


class Outcome(BaseModel):
    project: str
    namespace: str
    facility_project: str
    allowed: bool
    forwarded: bool
    dry_run: bool
    revision: str
    decisions: list[Decision]
    results: list[CallResult] = []
    notices: list[Notice] = []
    objects: list[dict[str, Any]] = []

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]


def decide_plan(plan: Plan, identity: Identity, policy: Decider, *, dry_run: bool) -> list[Decided]:
    """Every call decided before anything is forwarded.

    Once the engine fails (error, timeout), the calls after it are denied without asking it again:
    a hanging engine then costs one timeout per request, not one per call. They are still audited.
    """
    decided: list[Decided] = []
    failed: str | None = None
    for call in plan.calls:
        if failed is not None:
            decision = undecided(call, f"not decided: the policy could not decide an earlier call ({failed})",
                                  error=failed)
            decided.append(Decided(decision, call, [decision]))
            continue
        item = decide_call(call, identity, plan, policy, dry_run=dry_run)
        decided.append(item)
        if item.decision.error:
            failed = item.decision.error
    return decided


def _who(ctx: RequestContext, identity: Identity) -> records.Who:
    return records.Who(identity, ctx.token_id, ctx.token_kind, ctx.source, ctx.on_behalf_of, ctx.model_digest)


def _decision_record(ctx: RequestContext, identity: Identity, plan: Plan, decided: Decided,
                     digest: str | None = None) -> records.Record:
    return records.decision(ctx.request_id, ctx.operation, _who(ctx, identity), plan, decided.decision, digest)


def _backend_name(backend: Backend) -> str:
    return getattr(backend, "name", type(backend).__name__)


def _forward_record(ctx: RequestContext, identity: Identity, plan: Plan, backend: Backend, result: CallResult | None,
                    error: SpinError | None = None, *, operation: str | None = None) -> records.Record:
    return records.forward(ctx.request_id, operation or ctx.operation, _who(ctx, identity), plan,
                           _backend_name(backend), result, error)


def intercept(plan: Plan, identity: Identity, policy: Decider, audit: AuditLog, backend: Backend | None,
              ctx: RequestContext, *, dry_run: bool, volumes: bool = False, new_project: bool | None = None) -> Outcome:
    """Decide the whole plan, audit each decision, then forward it if (and only if) every call is allowed.

    `new_project`: whether the project existed before this request's `up` (a failure then removes what was
    applied); by default, whether every call creates. The gateway says True when this `up` takes over from
    a first `up` that died mid-way: the leftovers it updates were never a user's running project.
    """
    decided = decide_plan(plan, identity, policy, dry_run=dry_run)
    # The decided objects are kept before the records that name them; AuditError here forwards nothing.
    digests = ctx.objects.put_many(item.call.object for item in decided) if ctx.objects else [None] * len(decided)
    # One fsync for the whole plan's decisions; AuditError here means nothing is forwarded.
    audit.write_many([_decision_record(ctx, identity, plan, item, digest) for item, digest in zip(decided, digests, strict=True)])
    decisions = [item.decision for item in decided]
    allowed = all(d.allowed for d in decisions)
    outcome = Outcome(
        project=plan.project, namespace=plan.namespace, facility_project=plan.facility_project,
        allowed=allowed, forwarded=False, dry_run=dry_run,
        revision=next((d.revision for d in decisions if d.revision), ""),
        decisions=decisions, notices=plan.notices,
        objects=[item.call.object for item in decided],
    )
    if not allowed or dry_run or backend is None:
        return outcome
    ref = ProjectRef(plan.project, plan.namespace, plan.owner, plan.facility_project,
                     keep_services=frozenset(plan.keep_services), recreate=plan.recreate)
    approved = [item.call for item in decided]
    try:
        if ctx.operation == "down":
            results = backend.delete(ref, approved, volumes=volumes)
        else:
            results = backend.apply(ref, approved)
    except Exception as raw:
        exc = raw if isinstance(raw, ForwardError) else ForwardError(
            f"the {getattr(backend, 'name', 'backend')} backend failed: {type(raw).__name__}: {raw}")
        audit.write(_forward_record(ctx, identity, plan, backend, None, exc))
        exc.audited = True  # type: ignore[attr-defined]  # the forward record is its refusal record
        if isinstance(exc, RuntimeDrift):
            # Its own record type, so security staff can find every time a backend ran something undecided.
            differences = [f"{pod}: {d}" for pod, found in (exc.details.get("drift") or {}).items() for d in found]
            audit.write(records.drift(ctx.request_id, ctx.operation, _who(ctx, identity), plan,
                                      getattr(backend, "name", type(backend).__name__), differences))
        # The decisions were made and audited: the answer carries them, failures included (`--json`).
        exc.details.setdefault("project", plan.project)
        exc.details.setdefault("request_id", ctx.request_id)
        exc.details.setdefault("decisions", [d.model_dump(mode="json") for d in decisions])
        if ctx.operation == "down":
            exc.message += "; what was already removed stays removed: run `spin down` again to finish"
        else:
            _after_failed_up(plan, identity, audit, backend, ctx, ref, exc, new_project)
        if exc is raw:
            raise
        raise exc from raw
    try:
        audit.write_many([_forward_record(ctx, identity, plan, backend, result) for result in results])
    except AuditError as exc:
        raise AuditError(f"the plan was forwarded, but its results could not be recorded: {exc.message}",
                         hint="The decisions are on record. Free disk or fix the audit log's permissions; "
                              "`spin ps` shows what runs.") from None
    return outcome.model_copy(update={"forwarded": True, "results": results})


def _after_failed_up(plan: Plan, identity: Identity, audit: AuditLog, backend: Backend, ctx: RequestContext,
                     ref: ProjectRef, exc: ForwardError, new_project: bool | None = None) -> None:
    """No half project: a new project is removed again; an existing one is left for the next `up` to complete.

    A new project (every call a CREATE) has nothing of its own from before, so removing all of it (volumes too:
    this `up` made them) restores exactly the state before. An existing project cannot be put back (the
    backends keep no earlier versions), but every backend applies idempotently, so the next `up` of the same
    compose file converges; the error says so. The rollback is the gateway undoing its own forward, not a
    user's request: it is audited (operation "rollback") but not put to the policy.
    """
    if new_project is None:
        new_project = all(call.operation == "CREATE" for call in plan.calls)
    if not new_project:
        exc.message += ("; the project existed before, so what was already applied stays applied: "
                        "run `spin up` again to complete it (it converges)")
        exc.details["rolled_back"] = False
        return
    # The same objects, as DELETE calls in reverse order, for backends that delete what the calls name.
    undo = [Call(id=f"rollback-{call.id}", operation="DELETE", object=call.object) for call in reversed(plan.calls)]
    try:
        undone = backend.delete(ref, undo, volumes=True)
    except Exception as raw:
        again = raw if isinstance(raw, ForwardError) else ForwardError(f"{type(raw).__name__}: {raw}")
        audit.write(_forward_record(ctx, identity, plan, backend, None, again, operation="rollback"))
        exc.message += (f"; removing what this `up` created failed too ({again.message}): "
                        "run `spin up` again (it converges) or `spin down`")
        exc.details["rolled_back"] = False
        return
    audit.write_many([_forward_record(ctx, identity, plan, backend, result, operation="rollback")
                      for result in undone] or
                     [records.nothing_to_undo(ctx.request_id, _who(ctx, identity), plan, _backend_name(backend))])
    exc.message += "; everything this `up` had created was removed again (the project is as before)"
    exc.details["rolled_back"] = True
