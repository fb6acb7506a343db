"""The gateway's operations (up, check, down, status, logs, convert), one path for every caller.

Routes hold no logic: they authenticate, then call these methods. Each method
authorises, plans, and hands the plan to the interceptor; nothing here talks
to a backend except through the interceptor or the read-only status calls.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from spin_gateway.audit import records
from spin_gateway.audit.log import AuditLog
from spin_gateway.audit.objects import ObjectStore
from spin_gateway.backends.base import Backend, ProjectRef
from spin_gateway.gateway_api import access, planning
from spin_gateway.gateway_api.auth.service_tokens import TokenScope
from spin_gateway.gateway_api.identity.base import IdentityProvider
from spin_gateway.gateway_api.schemas import (
    ConvertResponse,
    Health,
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
from spin_gateway.vocabulary.types import Identity, Plan


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
                 objects: ObjectStore | None = None):
        self.policy = policy
        self.audit = audit
        #: The submitted models and decided objects, kept beside the audit log (`spin audit show`).
        self.objects = objects
        self.backend = backend
        self.identity = identity
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _project_lock(self, namespace: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(namespace, threading.Lock())

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
           allow_unsupported: bool = False) -> PlanResponse:
        operation = "check" if dry_run else "up"
        namespace = planning.namespace_for(project)
        identity = self.acting_identity(caller, as_user if dry_run else None, operation, project)
        if facility_project:  # the token's limit first: the clearer reason
            self.require_scope(caller, operation, project, facility_project)
        fproject = self.filed_under(caller, identity, facility_project, operation, project)
        ref = ProjectRef(project, namespace, identity.name, fproject)
        self.require_scope(caller, operation, project, fproject)
        with self._project_lock(namespace):
            info = self._authorise(caller, operation, project, ref)
            if info is not None and info.facility_project:
                fproject = info.facility_project  # an existing project keeps its facility project
                ref = ProjectRef(project, namespace, info.owner or identity.name, fproject)
            labels = planning.project_labels(project, ref.owner, fproject)
            translation = _translate(model, project, namespace, labels, allow_unsupported)
            existing = self.backend.existing_objects(ref) if info is not None else set()
            plan = planning.up_plan(translation.objects, translation.notices, project=project, namespace=namespace,
                                    owner=ref.owner, facility_project=fproject, existing=existing)
            ctx = RequestContext(request_id=uuid.uuid4().hex, operation=operation, source=caller.source,
                                 token_id=caller.token_id, token_kind=caller.token_kind,
                                 on_behalf_of=identity.name if identity is not caller.identity else None,
                                 model_digest=self.objects.put(model) if self.objects else None, objects=self.objects)
            outcome = intercept(plan, identity, self.policy, self.audit, self.backend, ctx, dry_run=dry_run)
        response = self._response(outcome, ctx)
        if info is None and outcome.forwarded:
            # A project that did not exist was created, whatever a backend reports for objects it does not
            # materialise (podman "keeps" Namespace, Service and NetworkPolicy as unchanged).
            response.status = "created"
        if not outcome.allowed and not dry_run:
            raise _audited(PolicyDenied(_denial_message(outcome), **response.model_dump(mode="json")))
        if wait and outcome.forwarded:
            response.services = self.backend.wait(ref, timeout)
            self._verify_running(ref, outcome, ctx, identity)
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
        who = records.Who(identity, ctx.token_id, ctx.token_kind, ctx.source, ctx.on_behalf_of, ctx.model_digest)
        self.audit.write(records.drift(ctx.request_id, ctx.operation, who, plan,
                                       getattr(self.backend, "name", type(self.backend).__name__), differences,
                                       outcome.revision))
        shown = "; ".join(differences[:5]) + (f"; and {len(differences) - 5} more" if len(differences) > 5 else "")
        raise RuntimeDrift(f"project {ref.project}: what runs differs from what the policy decided: {shown}",
                       differences=differences)

    def down(self, caller: Caller, project: str, *, volumes: bool = False) -> PlanResponse:
        namespace = planning.namespace_for(project)
        ref = ProjectRef(project, namespace)
        with self._project_lock(namespace):
            info = self._authorise(caller, "down", project, ref)
            if info is None:
                raise NotFound(f"project {project!r} does not exist", hint="`spin ps` lists your projects.")
            ref = ProjectRef(project, namespace, info.owner, info.facility_project)
            plan = planning.down_plan(self.backend.existing_objects(ref), project=project, namespace=namespace, owner=info.owner,
                                      facility_project=info.facility_project)
            ctx = RequestContext(request_id=uuid.uuid4().hex, operation="down", source=caller.source,
                                 token_id=caller.token_id, token_kind=caller.token_kind)
            outcome = intercept(plan, caller.identity, self.policy, self.audit, self.backend, ctx,
                                dry_run=False, volumes=volumes)
        if not outcome.allowed:
            raise _audited(PolicyDenied(_denial_message(outcome), **self._response(outcome, ctx).model_dump(mode="json")))
        response = self._response(outcome, ctx)
        response.status = "removed"
        return response

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

    def logs(self, caller: Caller, project: str, service: str | None, tail: int | None, since: str | None) -> list[str]:
        namespace = planning.namespace_for(project)
        info = self._authorise(caller, "logs", project, ProjectRef(project, namespace))
        if info is None:
            raise NotFound(f"project {project!r} does not exist")
        return list(self.backend.logs(ProjectRef(project, namespace, info.owner, info.facility_project),
                                      service, tail, since))

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
                          refused_at=_iso(p.refused_at))

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


def _denial_message(outcome: Outcome) -> str:
    lines = [f"{d.kind}/{d.name}: [{v.rule}] {v.message}" for d in outcome.denied for v in d.violations]
    return f"refused by policy ({len(lines)} violation{'s' if len(lines) != 1 else ''}): " + "; ".join(lines)


__all__ = ["Caller", "Gateway"]
