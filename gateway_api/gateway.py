"""The gateway's operations (up, check, down, status, logs, convert), one path for every caller.

Routes hold no logic: they authenticate, then call these methods. Each method
authorises, plans, and hands the plan to the interceptor; nothing here talks
to a backend except through the interceptor or the read-only status calls.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from spin_gateway.audit import records
from spin_gateway.audit.log import AuditLog
from spin_gateway.audit.objects import ObjectStore
from spin_gateway.backends.base import Backend, ProjectRef
from spin_gateway.backends.locks import NOT_HELD, Held, InProcessLocks, Journal, ProjectLocks, journal_objects
from spin_gateway.gateway_api import access, planning
from spin_gateway.gateway_api.auth.service_tokens import TokenScope
from spin_gateway.gateway_api.identity.base import IdentityProvider
from spin_gateway.gateway_api.schemas import (
    ConvertResponse,
    ExecResponse,
    Health,
    LifecycleResponse,
    PlanResponse,
    PolicyInfo,
    ProjectList,
    ProjectSummary,
    StatusResponse,
)
from spin_gateway.interceptor.intercept import Outcome, RequestContext, intercept
from spin_gateway.policy.service import PolicyService
from spin_gateway.vocabulary.errors import Forbidden, NotFound, PolicyDenied, RuntimeDrift, SpinError
from spin_gateway.vocabulary.facility import facility_project_for
from spin_gateway.vocabulary.labels import LABEL_SERVICE
from spin_gateway.vocabulary.types import Call, CallResult, Identity, Notice, Plan, ServiceStatus


@dataclass(frozen=True)
class Caller:
    identity: Identity
    token_id: str
    token_kind: str = "user"
    source: str | None = None
    #: A service token's scope (None for a user's own token): it limits resources, not only whom it acts for.
    scope: TokenScope | None = None

    def covers(self, facility_project: str | None) -> bool:
        return self.scope is None or self.scope.covers(facility_project or "")

    @property
    def is_admin(self) -> bool:
        """An administrator with their own token. A service token acting for an administrator has its scope
        (the users it may act for), not the administrator's powers (service tokens, reloads, `--as`)."""
        return self.identity.admin and self.token_kind == "user"

    def who(self) -> records.Who:
        return records.Who(self.identity, self.token_id, self.token_kind, self.source)


def _translate(model: dict[str, Any], project: str, namespace: str, labels: dict[str, str],
               allow_unsupported: bool = False):
    from spin_gateway.compose_loader import validate_model
    from spin_gateway.translate import to_kubernetes

    return to_kubernetes(validate_model(model), project=project, namespace=namespace, labels=labels,
                         allow_unsupported=allow_unsupported)


def _status_word(outcome: Outcome) -> str:
    if not outcome.allowed:
        return "denied"
    if outcome.dry_run:
        return "checked"
    # "skipped": objects a backend has no counterpart for (a Namespace on podman); they change nothing, nor does
    # "enforced" (a NetworkPolicy the podman networks carry).
    actions = {r.action for r in outcome.results} - {"skipped", "enforced"}
    if actions <= {"unchanged"}:
        return "unchanged"
    if actions & {"configured", "deleted"} or "unchanged" in actions:
        return "configured"
    return "created"


def _audited(exc: SpinError) -> SpinError:
    """Its decisions are on the record already (one per call): the refusal handler writes no second one."""
    exc.audited = True  # type: ignore[attr-defined]
    return exc


class Gateway:
    def __init__(self, *, policy: PolicyService, audit: AuditLog, backend: Backend, identity: IdentityProvider,
                 objects: ObjectStore | None = None, locks: ProjectLocks | None = None):
        self.policy = policy
        self.audit = audit
        #: The submitted models and decided objects, kept beside the audit log (`spin audit show`).
        self.objects = objects
        self.backend = backend
        self.identity = identity
        # One `up`/`down` per project at a time: a Lease per project on Kubernetes, an flock on one machine
        # (wiring.make_locks); threads of this process only when built without either (tests, tools).
        self.locks: ProjectLocks = locks or InProcessLocks()

    def deny_access(self, caller: Caller, operation: str, project: str, exc: Forbidden) -> NoReturn:
        """Every refusal is audited: the record is on disk before the caller hears no."""
        self.audit.write(records.access_refused(uuid.uuid4().hex, operation, project, caller.who(), exc.message))
        exc.audited = True  # type: ignore[attr-defined]  # the refusal handler need not write it again
        raise exc

    def require_admin(self, caller: Caller, what: str) -> None:
        if not caller.is_admin:
            self.deny_access(caller, what, what, Forbidden(f"only administrators (with their own token) may {what}"))

    def _authorise(self, caller: Caller, operation: str, project: str, ref: ProjectRef):
        info = self.backend.existing(ref)
        if info is not None:  # the token's limit first: its user may well be a member (the clearer reason)
            self.require_scope(caller, operation, project, info.facility_project)
        try:
            access.require_access(caller.identity, info)
        except Forbidden as exc:
            self.deny_access(caller, operation, project, exc)
        return info

    def require_scope(self, caller: Caller, operation: str, project: str, facility_project: str | None) -> None:
        """A service token scoped to facility projects reaches only compose projects filed under them,
        whatever else the user it acts for may reach (audited refusal otherwise)."""
        if caller.covers(facility_project):
            return
        reach = ", ".join(caller.scope.projects) if caller.scope else ""
        self.deny_access(caller, operation, project, Forbidden(
            f"project {project!r} is filed under facility project {facility_project or '(none)'!r}; this service "
            f"token reaches only projects of {reach}",
            hint="Use a token scoped to that facility project."))

    def acting_identity(self, caller: Caller, as_user: str | None, operation: str, project: str) -> Identity:
        """Whom a dry run decides for: the caller, or the user an administrator names (`spin check --as`).

        Deciding as another user is an administrator's own power (Caller.is_admin).
        """
        if not as_user or as_user == caller.identity.name:
            return caller.identity
        if not caller.is_admin:
            self.deny_access(caller, operation, project, Forbidden(
                f"only administrators, with their own token, may decide as another user ({as_user})",
                hint="Leave out --as (as_user), or ask an administrator."))
        return self.identity.lookup(as_user)

    def filed_under(self, caller: Caller, identity: Identity, requested: str | None, operation: str,
                    project: str) -> str:
        """The facility project a new project of `identity` is filed under; a refusal is audited."""
        try:
            return facility_project_for(identity, requested)
        except Forbidden as exc:
            self.deny_access(caller, operation, project, exc)

    # -- operations -----------------------------------------------------------

    def convert(self, caller: Caller, project: str, model: dict[str, Any], *,
                allow_unsupported: bool = False) -> ConvertResponse:
        from spin_gateway.compose_loader import validate_model
        from spin_gateway.translate import convert

        conversion = convert(validate_model(model), project=project, owner=caller.identity.name,
                             facility_project=facility_project_for(caller.identity),
                             allow_unsupported=allow_unsupported)
        return ConvertResponse(project=project, namespace=conversion.namespace, objects=conversion.objects,
                               notices=conversion.notices)

    def up(self, caller: Caller, project: str, model: dict[str, Any], *, facility_project: str | None = None,
           dry_run: bool = False, as_user: str | None = None, wait: bool = False, timeout: float = 120,
           allow_unsupported: bool = False, remove_orphans: bool = False,
           force_recreate: bool = False, remove: list[str] | None = None) -> PlanResponse:
        operation = "check" if dry_run else "up"
        namespace = planning.namespace_for(project)
        identity = self.acting_identity(caller, as_user if dry_run else None, operation, project)
        if facility_project:  # the token's limit first: the clearer reason
            self.require_scope(caller, operation, project, facility_project)
        fproject = self.filed_under(caller, identity, facility_project, operation, project)
        ref = ProjectRef(project, namespace, identity.name, fproject)
        self.require_scope(caller, operation, project, fproject)
        # A dry run forwards nothing, so it does not queue behind the project's `up`s (a job array's checks
        # would otherwise decide one at a time); it reads the project as it stands when it asks.
        with self.locks.hold(namespace) if not dry_run else contextlib.nullcontext(NOT_HELD) as held:
            info = self._authorise(caller, operation, project, ref)
            if info is not None and info.facility_project:
                fproject = info.facility_project  # an existing project keeps its facility project
                ref = ProjectRef(project, namespace, info.owner or identity.name, fproject)
            labels = planning.project_labels(project, ref.owner, fproject)
            translation = _translate(model, project, namespace, labels, allow_unsupported)
            existing = self.backend.existing_objects(ref) if info is not None else set()
            # Compose's orphans: services the project runs that the file no longer names. Kept, with a notice,
            # unless the caller asks to remove them (as `docker compose up` does).
            orphans = sorted(set(info.services if info is not None else []) - set(model.get("services") or {}))
            if remove:  # named orphans go (`spin run --rm` removing its one-off); the others stay
                orphans = [name for name in orphans if name not in remove]
            notices = list(translation.notices)
            if orphans and not remove_orphans:
                notices += [Notice(path=f"services.{name}", action="kept",
                                   reason="no longer in the compose file, still running; "
                                          "`spin up --remove-orphans` removes it") for name in orphans]
            plan = planning.up_plan(translation.objects, notices, project=project, namespace=namespace,
                                    owner=ref.owner, facility_project=fproject, existing=existing,
                                    keep_services=[] if remove_orphans else orphans, recreate=force_recreate,
                                    requested_by=identity.name)
            ctx = RequestContext(request_id=uuid.uuid4().hex, operation=operation, source=caller.source,
                                 token_id=caller.token_id, token_kind=caller.token_kind,
                                 on_behalf_of=identity.name if identity is not caller.identity else None,
                                 model_digest=self.objects.put(model) if self.objects else None, objects=self.objects)
            # A first `up` that died mid-way left objects, but the project is as new as it was for that `up`.
            unfinished = held.unfinished
            new_project = info is None or bool(unfinished and unfinished.operation == "up" and unfinished.new_project)
            if dry_run:  # a dry run changes nothing: an unfinished operation stays for the next real one
                outcome = intercept(plan, identity, self.policy, self.audit, self.backend, ctx, dry_run=True)
            else:
                outcome = self._journaled(held, plan, identity, ctx, existing, new_project=new_project)
        response = self._response(outcome, ctx)
        response.lock_waited = round(held.waited, 3)
        if new_project and outcome.forwarded:
            # A project that did not exist was created, whatever a backend reports for objects it does not
            # materialise (podman "keeps" Namespace, Service and NetworkPolicy as unchanged).
            response.status = "created"
        if not outcome.allowed and not dry_run:
            raise _audited(PolicyDenied(_denial_message(outcome), **response.model_dump(mode="json")))
        if wait and outcome.forwarded:
            try:
                response.services = self.backend.wait(ref, timeout)
                self._verify_running(ref, outcome, ctx, identity)
            except SpinError as exc:
                # The objects were applied: a failed wait still answers with what was decided and applied, and
                # the services as the backend last saw them (WaitTimeout's data), so --json has the results.
                if isinstance(exc.details.get("data"), list):
                    response.services = [ServiceStatus.model_validate(s) for s in exc.details.pop("data")]
                response.status = "not ready"
                exc.details = {**response.model_dump(mode="json"), **exc.details}
                raise
        return response

    def _verify_running(self, ref: ProjectRef, outcome: Outcome, ctx: RequestContext, identity: Identity) -> None:
        """Decided vs. running, once the pods are up: a difference is audited (`drift`) and fails the up."""
        verify = getattr(self.backend, "verify_running", None)
        if verify is None:
            return
        differences = verify(ref, outcome.objects)
        if not differences:
            return
        plan = Plan(project=ref.project, namespace=ref.namespace, owner=ref.owner,
                    facility_project=ref.facility_project, calls=[])
        who = records.Who(identity, ctx.token_id, ctx.token_kind, ctx.source, ctx.on_behalf_of)
        self.audit.write(records.drift(ctx.request_id, ctx.operation, who, plan,
                                       getattr(self.backend, "name", type(self.backend).__name__), differences,
                                       outcome.revision))
        shown = "; ".join(differences[:5]) + (f"; and {len(differences) - 5} more" if len(differences) > 5 else "")
        raise RuntimeDrift(f"project {ref.project}: what runs differs from what the policy decided: {shown}",
                       differences=differences)

    def down(self, caller: Caller, project: str, *, volumes: bool = False) -> PlanResponse:
        namespace = planning.namespace_for(project)
        ref = ProjectRef(project, namespace)
        with self.locks.hold(namespace) as held:
            info = self._authorise(caller, "down", project, ref)
            if info is None:
                raise NotFound(f"project {project!r} does not exist", hint="`spin ps` lists your projects.")
            ref = ProjectRef(project, namespace, info.owner, info.facility_project)
            existing = self.backend.existing_objects(ref)
            plan = planning.down_plan(existing, project=project, namespace=namespace, owner=info.owner,
                                      facility_project=info.facility_project)
            ctx = RequestContext(request_id=uuid.uuid4().hex, operation="down", source=caller.source,
                                 token_id=caller.token_id, token_kind=caller.token_kind)
            outcome = self._journaled(held, plan, caller.identity, ctx, existing, new_project=False, volumes=volumes)
            if outcome.forwarded and self.backend.existing(ref) is None:
                held.retire()  # the project is gone: so is its lock
        if not outcome.allowed:
            raise _audited(PolicyDenied(_denial_message(outcome), **self._response(outcome, ctx).model_dump(mode="json")))
        response = self._response(outcome, ctx)
        response.status = "removed"
        response.lock_waited = round(held.waited, 3)
        return response

    def _journaled(self, held: Held, plan: Plan, identity: Identity, ctx: RequestContext,
                   existing: set[tuple[str, str]], *, new_project: bool, volumes: bool = False) -> Outcome:
        """Intercept with the operation journaled where the project's next lock holder finds it.

        If the last holder died mid-way (its journal is still there), this operation completes the project
        (its plan applies idempotently and prunes the rest); when that one was the project's first `up`, the
        caller counts the project as new, so a failure now removes the leftovers too. What it found and did
        is audited (a `takeover` record).
        """
        unfinished = held.unfinished
        journal = Journal(ctx.operation, ctx.request_id, held.holder, new_project, journal_objects(plan.calls))
        backend = _JournaledBackend(self.backend, held, journal)
        outcome: Outcome | None = None
        error: SpinError | None = None
        try:
            outcome = intercept(plan, identity, self.policy, self.audit, backend, ctx, dry_run=False,
                                volumes=volumes, new_project=new_project)
            return outcome
        except SpinError as exc:
            error = exc
            raise
        finally:
            if backend.started:
                held.record(None)  # finished (done, rolled back or left retryable by the interceptor)
            if unfinished is not None:
                self._audit_takeover(plan, identity, ctx, unfinished, existing, outcome, error)

    def _audit_takeover(self, plan: Plan, identity: Identity, ctx: RequestContext, unfinished: Journal,
                        existing: set[tuple[str, str]], outcome: Outcome | None, error: SpinError | None) -> None:
        found = sum(1 for o in unfinished.objects if tuple(o.split("/", 1)) in existing)
        if error is not None:
            done = ("rolled back" if error.details.get("rolled_back") else "failed") + f": {error.message}"
        elif outcome is None or not outcome.allowed:
            done = "left as found: the policy refused this request; the next one takes it over"
        else:
            done = {"up": "completed", "down": "removed"}.get(ctx.operation, "completed")
        who = records.Who(identity, ctx.token_id, ctx.token_kind, ctx.source, ctx.on_behalf_of)
        self.audit.write(records.takeover(ctx.request_id, ctx.operation, who, plan, vars(unfinished), found, done))

    def status(self, caller: Caller, project: str, limit: int = 100, cursor: str | None = None) -> StatusResponse:
        namespace = planning.namespace_for(project)
        info = self._authorise(caller, "status", project, ProjectRef(project, namespace))
        if info is None:
            raise NotFound(f"project {project!r} does not exist")
        ref = ProjectRef(project, namespace, info.owner, info.facility_project)
        # Pages by service name, like the project list.
        services = sorted((s for s in self.backend.status(ref) if cursor is None or s.service > cursor),
                          key=lambda s: s.service)
        page = services[:limit]
        return StatusResponse(project=project, namespace=namespace, owner=info.owner,
                              facility_project=info.facility_project, services=page,
                              next_cursor=page[-1].service if len(services) > limit else None)

    def logs(self, caller: Caller, project: str, service: str | None, tail: int | None, since: str | None,
             timestamps: bool = False) -> list[str]:
        namespace = planning.namespace_for(project)
        info = self._authorise(caller, "logs", project, ProjectRef(project, namespace))
        if info is None:
            raise NotFound(f"project {project!r} does not exist")
        return list(self.backend.logs(ProjectRef(project, namespace, info.owner, info.facility_project),
                                      service, tail, since, timestamps))

    def _existing_ref(self, caller: Caller, operation: str, project: str) -> ProjectRef:
        namespace = planning.namespace_for(project)
        info = self._authorise(caller, operation, project, ProjectRef(project, namespace))
        if info is None:
            raise NotFound(f"project {project!r} does not exist", hint="`spin ls` lists your projects.")
        return ProjectRef(project, namespace, info.owner, info.facility_project)

    def lifecycle(self, caller: Caller, project: str, action: str, services: list[str]) -> LifecycleResponse:
        """stop, start, restart: the same decided pods, stopped or started; audited like every forward."""
        ref = self._existing_ref(caller, action, project)
        plan = Plan(project=project, namespace=ref.namespace, owner=ref.owner, facility_project=ref.facility_project,
                    calls=[])
        request_id = uuid.uuid4().hex
        who = caller.who()
        backend = getattr(self.backend, "name", type(self.backend).__name__)
        with self.locks.hold(ref.namespace):
            try:
                results = self.backend.lifecycle(ref, action, services)
            except SpinError as exc:
                self.audit.write(records.forward(request_id, action, who, plan, backend, None, exc))
                raise
        self.audit.write_many([records.forward(request_id, action, who, plan, backend, r) for r in results])
        return LifecycleResponse(project=project, action=action, results=results, request_id=request_id)

    def exec(self, caller: Caller, project: str, service: str, command: list[str], timeout: float = 60) -> ExecResponse:
        """A command in a running service, decided by the policy like any call (a CONNECT of PodExecOptions, as
        Kubernetes admits pods/exec), audited, and run only if allowed."""
        ref = self._existing_ref(caller, "exec", project)
        labels = {**planning.project_labels(project, ref.owner, ref.facility_project), LABEL_SERVICE: service}
        obj = {"apiVersion": "v1", "kind": "PodExecOptions",
               "metadata": {"name": service, "namespace": ref.namespace, "labels": labels},
               "container": service, "command": list(command), "stdin": False, "stdout": True, "stderr": True,
               "tty": False}
        plan = Plan(project=project, namespace=ref.namespace, owner=ref.owner, facility_project=ref.facility_project,
                    calls=[Call(id=f"000-podexecoptions-{service}", operation="CONNECT", object=obj)])
        ctx = RequestContext(request_id=uuid.uuid4().hex, operation="exec", source=caller.source,
                             token_id=caller.token_id, token_kind=caller.token_kind)
        # No backend: intercept decides and audits; the command runs below, only if allowed.
        outcome = intercept(plan, caller.identity, self.policy, self.audit, None, ctx, dry_run=False)
        if not outcome.allowed:
            raise _audited(PolicyDenied(_denial_message(outcome), **self._response(outcome, ctx).model_dump(mode="json")))
        backend = getattr(self.backend, "name", type(self.backend).__name__)
        who = records.Who(caller.identity, ctx.token_id, ctx.token_kind, ctx.source)
        try:
            result = self.backend.exec(ref, service, command, timeout)
        except SpinError as exc:
            self.audit.write(records.forward(ctx.request_id, "exec", who, plan, backend, None, exc))
            raise
        self.audit.write(records.forward(ctx.request_id, "exec", who, plan, backend, CallResult(
            call_id=plan.calls[0].id, kind="PodExecOptions", name=service, action="configured",
            message=f"exit code {result.exit_code}")))
        return ExecResponse(project=project, service=service, exit_code=result.exit_code, output=result.output,
                            decisions=outcome.decisions, policy_revision=outcome.revision, request_id=ctx.request_id)

    def list_projects(self, caller: Caller, limit: int = 100, cursor: str | None = None) -> ProjectList:
        visible = [p for p in self.backend.list_projects()
                   if access.may_act_on(caller.identity, p) and caller.covers(p.facility_project)]
        if cursor:
            visible = [p for p in visible if p.project > cursor]
        page = visible[:limit]
        return ProjectList(items=[ProjectSummary(**vars(p)) for p in page],
                           next_cursor=page[-1].project if len(visible) > limit else None)

    def readiness(self) -> Health:
        checks = {"policy": self.policy.revision, "backend": self.backend.name, "identity": self.identity.name}
        if self.policy.last_reload_error:
            # The live revision keeps deciding, but the files on disk are not what decides: not ready, saying why,
            # so the rollout or the monitoring that reads /readyz stops on it (issue 19).
            checks["policy_reload"] = self.policy.last_reload_error
            checks["policy_refused_candidate"] = self.policy.refused_candidate or "(unreadable)"
            checks["policy_serving"] = f"{self.policy.revision} (the last revision that passed)"
            return Health(status="not ready", checks=checks)
        return Health(status="ready", checks=checks)

    def policy_info(self) -> PolicyInfo:
        p = self.policy
        return PolicyInfo(revision=p.revision, engine=p.engine.name, policy_dir=str(p.policy_dir),
                          loaded_at=_iso(p.loaded_at), loaded_by=p.loaded_by, checked_at=_iso(p.checked_at),
                          last_reload_error=p.last_reload_error, refused_candidate=p.refused_candidate,
                          refused_at=_iso(p.refused_at), decision_cache=p.decision_cache)

    def reload_policy(self, caller: Caller) -> PolicyInfo:
        self.require_admin(caller, "reload the policy")
        self.policy.reload(by=caller.who())
        return self.policy_info()

    def _response(self, outcome: Outcome, ctx: RequestContext) -> PlanResponse:
        return PlanResponse(project=outcome.project, namespace=outcome.namespace,
                            facility_project=outcome.facility_project, allowed=outcome.allowed,
                            forwarded=outcome.forwarded, dry_run=outcome.dry_run, policy_revision=outcome.revision,
                            status=_status_word(outcome), decisions=outcome.decisions, results=outcome.results,
                            notices=outcome.notices, objects=outcome.objects if outcome.allowed else [],
                            request_id=ctx.request_id)


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch is not None else None


class _JournaledBackend:
    """The backend, with the journal written before it is first asked to change anything."""

    def __init__(self, inner: Backend, held: Held, journal: Journal):
        self.inner = inner
        self.held = held
        self.journal = journal
        self.name = inner.name
        self.started = False

    def __getattr__(self, attr: str):
        return getattr(self.inner, attr)

    def _phase(self, phase: str) -> None:
        self.journal.phase = phase
        self.held.record(self.journal)
        self.started = True

    def apply(self, ref: ProjectRef, calls: list[Call]) -> list[CallResult]:
        self._phase("forwarding")
        return self.inner.apply(ref, calls)

    def delete(self, ref: ProjectRef, calls: list[Call], volumes: bool) -> list[CallResult]:
        # During an `up`, a delete is the interceptor removing what a failed first `up` created.
        self._phase("forwarding" if self.journal.operation == "down" else "rolling-back")
        return self.inner.delete(ref, calls, volumes)


def _denial_message(outcome: Outcome) -> str:
    lines = [f"{d.kind}/{d.name}: [{v.rule}] {v.message}" for d in outcome.denied for v in d.violations]
    return f"refused by policy ({len(lines)} violation{'s' if len(lines) != 1 else ''}): " + "; ".join(lines)


__all__ = ["Caller", "Gateway"]
