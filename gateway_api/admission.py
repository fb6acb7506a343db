"""Kubernetes admission for kubectl users and the gateway's own calls: the same policies at the cluster's door.

    AdmissionReview -> who (userInfo -> a facility identity, through the gateway's identity source)
                    -> which project (the namespace's spin labels)
                    -> policy/decide.py: mutate, then validate, exactly as the gateway decides its own calls
                    -> audit record (`via: admission`) -> answer (JSONPatch, warnings, or the refusal)

The site rules (`admission:` in the site data, reloaded with the policies) say how a Kubernetes username
becomes a facility name, which callers are the cluster's own machinery (passed without a decision, on the
record), which namespaces outside every project pass, and which Kubernetes identity is the gateway's own:
only its `spin.io/requested-by` annotation is believed. Everything else is refused: an unknown user, a
namespace outside every project, an identity source that does not answer. docs/kubernetes.md has the why.
"""

from __future__ import annotations

import fnmatch
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from spin_gateway.audit import records
from spin_gateway.backends.base import ProjectInfo, ProjectRef
from spin_gateway.gateway_api.gateway import Gateway
from spin_gateway.gateway_api.identity.cache import TtlCache
from spin_gateway.policy.admission_review import ReviewRequest, parse_review, review_response
from spin_gateway.policy.decide import decide_call
from spin_gateway.vocabulary.errors import Conflict, NotFound, PolicyLoadError, SpinError
from spin_gateway.vocabulary.labels import (
    LABEL_FACILITY_PROJECT,
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    LABEL_PROJECT,
    REQUESTED_BY_ANNOTATION,
)
from spin_gateway.vocabulary.types import Decision, Identity, Plan, Violation

Phase = Literal["mutate", "validate"]


class AdmissionRules(BaseModel):
    """`admission:` in the site data; rego/site.yaml documents each key."""

    model_config = ConfigDict(extra="forbid")

    user_prefix: str = ""
    gateway_users: list[str] = ["system:serviceaccount:spin-system:spin-gateway"]
    allow_service_accounts: list[str] = ["kube-system:*"]
    allow_users: list[str] = ["system:kube-controller-manager", "system:kube-scheduler"]
    allow_groups: list[str] = ["system:nodes"]
    allow_namespaces: list[str] = ["kube-system", "kube-public", "kube-node-lease"]

    @classmethod
    def from_site(cls, site: dict[str, Any]) -> AdmissionRules:
        try:
            return cls.model_validate(site.get("admission") or {})
        except ValidationError as exc:  # fail closed: the webhook answers 500 and the API server refuses
            problem = exc.errors()[0]
            raise PolicyLoadError(f"site data admission.{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}",
                                  hint="See the admission section of rego/site.yaml.") from None

    def machinery(self, req: ReviewRequest) -> str | None:
        """Why the call is the cluster's own machinery (passed without a decision), or None."""
        account = req.service_account
        if account is not None and any(fnmatch.fnmatchcase(account, p) for p in self.allow_service_accounts):
            return f"service account {account} is listed in admission.allow_service_accounts"
        if req.username in self.allow_users:
            return f"user {req.username} is listed in admission.allow_users"
        group = next((g for g in req.groups if g in self.allow_groups), None)
        return f"group {group} is listed in admission.allow_groups" if group else None

    def facility_name(self, username: str) -> str | None:
        """The facility name a Kubernetes username stands for, or None (not a facility user)."""
        if username.startswith("system:"):
            return None
        if not username.startswith(self.user_prefix):
            return None
        name = username[len(self.user_prefix):]
        return name or None


def _project_from_labels(namespace: str, labels: dict[str, str]) -> ProjectInfo | None:
    if labels.get(LABEL_MANAGED_BY) != "spin" or not labels.get(LABEL_PROJECT):
        return None
    return ProjectInfo(labels[LABEL_PROJECT], namespace, labels.get(LABEL_OWNER, ""),
                       labels.get(LABEL_FACILITY_PROJECT, ""))


def _denial(decision: Decision, kind: str, name: str) -> str:
    lines = [f"{kind}/{name}: [{v.rule}] {v.message}" for v in decision.violations]
    return f"refused by policy ({len(lines)} violation{'s' if len(lines) != 1 else ''}): " + "; ".join(lines)


class Refused(Exception):
    """A site rule refused the call before any policy decision."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule, self.message = rule, message


class AdmissionWebhook:
    def __init__(self, gateway: Gateway, *, namespace_ttl: float = 2.0):
        self.gateway = gateway
        # A namespace's project labels, read once per few seconds rather than on every call; a Namespace
        # the webhook sees changing is dropped at once, and "no project" is never kept (it is about to be made).
        self._projects: TtlCache[ProjectInfo] = TtlCache(namespace_ttl, 4096)

    # -- the project a call is about ------------------------------------------------------------

    def _project(self, req: ReviewRequest) -> ProjectInfo | None:
        if req.kind.get("kind") == "Namespace" and not req.kind.get("group"):
            name = req.name or str((req.subject.get("metadata") or {}).get("name", ""))
            self._projects.discard(name)
            # An existing namespace is decided as the project it is (UPDATE, DELETE): relabelling another
            # facility project's namespace as one's own is then refused by the namespace rule.
            source = req.old_object if req.operation != "CREATE" and req.old_object else req.subject
            return _project_from_labels(name, req.labels(source))
        if not req.namespace:
            return None
        cached = self._projects.get(req.namespace)
        if cached is not None:
            return cached
        backend = self.gateway.backend
        lookup = getattr(backend, "project_of_namespace", None)
        try:
            info = lookup(req.namespace) if lookup else backend.existing(ProjectRef(req.namespace, req.namespace))
        except Conflict:  # a namespace spin did not make
            info = None
        if info is not None:
            self._projects.put(req.namespace, info)
        return info

    # -- who --------------------------------------------------------------------------------------

    def _identity(self, req: ReviewRequest, rules: AdmissionRules, info: ProjectInfo) -> tuple[Identity, str | None]:
        """The facility identity the call is decided as, and an ignored requested-by annotation."""
        claimed = req.annotation(REQUESTED_BY_ANNOTATION)
        if req.username in rules.gateway_users:
            # The gateway's own call, for the user it names; without the annotation (an object from before
            # it), for the project's owner.
            name = claimed or info.owner
            ignored = None
        else:
            name = rules.facility_name(req.username) or ""
            ignored = claimed if claimed is not None and claimed != name else None
            if not name:
                raise Refused("admission-identity", f"Kubernetes user {req.username!r} is not a facility user "
                              f"(site rule: usernames are {rules.user_prefix or ''}<facility name>); refused")
        try:
            return self.gateway.identity.lookup(name), ignored
        except NotFound:
            raise Refused("admission-identity", f"{name!r} (Kubernetes user {req.username!r}) is not known to "
                          "the facility; refused") from None
        except SpinError as exc:  # the identity source is down: nothing is known, so nothing passes
            raise Refused("admission-identity", f"the facility's identity source did not answer: {exc.message}") \
                from None

    # -- the review -------------------------------------------------------------------------------

    def review(self, body: Any, phase: Phase, source: str | None = None) -> dict[str, Any]:
        req = parse_review(body)
        rules = AdmissionRules.from_site(self.gateway.policy.engine.bundle.site)
        call = req.call()
        target = {"apiVersion": call.object.get("apiVersion", ""), "kind": call.kind, "name": call.name,
                  "namespace": call.namespace or req.namespace or None}
        kube_user = {"username": req.username, "groups": list(req.groups)}
        request_id = req.uid or uuid.uuid4().hex

        def record(**fields: Any) -> dict[str, Any]:
            return records.admission(request_id, phase, kube_user, fields.pop("user"), target, req.operation,
                                     dry_run=req.dry_run, **fields) | {"source": source}

        info: ProjectInfo | None = None
        ignored: str | None = None
        identity: Identity | None = None
        try:
            is_gateway = req.username in rules.gateway_users
            why = None if is_gateway else rules.machinery(req)
            if why is not None:
                self.gateway.audit.write(record(user={"name": req.username}, passed=True, message=why))
                return review_response(req.uid, allowed=True)
            info = self._project(req)
            if info is None:
                where = target["namespace"] or "(cluster-wide)"
                if target["namespace"] in rules.allow_namespaces:
                    self.gateway.audit.write(record(user={"name": req.username}, passed=True,
                                                    message=f"namespace {where} is listed in admission.allow_namespaces"))
                    return review_response(req.uid, allowed=True)
                raise Refused("admission-namespace", f"namespace {where} belongs to no spin project (site rule: "
                              "calls outside every project are refused)")
            identity, ignored = self._identity(req, rules, info)
        except Refused as refused:
            user = {"name": identity.name, "uid": identity.uid} if identity else {"name": req.username}
            plan = Plan(project=info.project, namespace=info.namespace, owner=info.owner,
                        facility_project=info.facility_project, calls=[]) if info else None
            self.gateway.audit.write(record(user=user, plan=plan, rule=refused.rule, message=refused.message,
                                            requested_by_ignored=ignored))
            return review_response(req.uid, allowed=False, message=refused.message)
        plan = Plan(project=info.project, namespace=info.namespace, owner=info.owner,
                    facility_project=info.facility_project, calls=[])
        decided = decide_call(call, identity, plan, self.gateway.policy, dry_run=req.dry_run)
        decision = decided.decision
        if phase == "validate" and decision.allowed and decision.patches:
            # The validating pass must see the object exactly as decided: changes still owed mean the mutating
            # webhook did not run (or something after it undid them); what would be stored was not decided.
            decision = decision.model_copy(update={"allowed": False, "violations": [Violation(
                rule="admission-unmutated",
                message="the object still needs the policy's changes "
                        f"({', '.join(p.get('path', '') for p in decision.patches)}); the mutating webhook "
                        "did not make them (check the MutatingWebhookConfiguration)")]})
        self.gateway.audit.write(record(user={"name": identity.name, "uid": identity.uid}, plan=plan,
                                        decided=decision, requested_by_ignored=ignored))
        if not decision.allowed:
            return review_response(req.uid, allowed=False, message=_denial(decision, call.kind, call.name),
                                   warnings=decision.warnings)
        return review_response(req.uid, allowed=True, patches=decision.patches if phase == "mutate" else None,
                               warnings=decision.warnings)


__all__ = ["AdmissionRules", "AdmissionWebhook"]
