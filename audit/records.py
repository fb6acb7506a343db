"""Every audit record the gateway writes, built here from typed arguments: one function per record shape.

The log (log.py) adds `schema_version`, `time`, `record_id`, `prev` and `mac`; these functions give the rest.
docs/audit.md describes the fields. `spin audit` and GET /v1/audit filter on `type`, `user.name`, `project`,
`facility_project`, `decision` and `violations[].rule`; `spin audit verify` reads only what the log adds.
Records name objects and never copy their contents (a Secret's data never reaches the log).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from spin_gateway.vocabulary.errors import SpinError
from spin_gateway.vocabulary.types import CallResult, Decision, Identity, Plan

Record = dict[str, Any]


@dataclass(frozen=True)
class Who:
    """Whom a request is for and how it came: the fields each record of one request repeats."""

    user: Identity
    token_id: str | None
    token_kind: str = "user"  # user | service (a facility system acting for `user`)
    source: str | None = None  # the client's address
    on_behalf_of: str | None = None  # an administrator's `check --as` names the user here
    #: The submitted compose model's digest (audit/objects.py) on the records of an `up` or `check`.
    model_digest: str | None = None

    def _user(self) -> dict[str, Any]:
        return {"name": self.user.name, "uid": self.user.uid}

    def _token(self) -> dict[str, Any]:
        return {"id": self.token_id, "kind": self.token_kind}


def _request(request_id: str, operation: str, who: Who, plan: Plan) -> Record:
    """What decision and forward records share: who, which request, which project."""
    return {
        "request_id": request_id,
        "user": who._user(),
        "token": who._token(),
        "on_behalf_of": who.on_behalf_of,
        "source": who.source,
        "project": plan.project,
        "facility_project": plan.facility_project,
        "namespace": plan.namespace,
        "operation": operation,
        **({"model_digest": who.model_digest} if who.model_digest else {}),
    }


def decision(request_id: str, operation: str, who: Who, plan: Plan, d: Decision, object_digest: str | None = None) -> Record:
    """One call of a plan, as the policy decided it (written before anything is forwarded).

    `object_digest` names the decided object (as patched, secrets redacted) in the store beside the log.
    """
    return {
        "type": "decision",
        **_request(request_id, operation, who, plan),
        "call_id": d.call_id,
        "verb": d.operation,
        "object": {"kind": d.kind, "name": d.name, **({"digest": object_digest} if object_digest else {})},
        "decision": "allow" if d.allowed else "deny",
        "violations": [v.model_dump() for v in d.violations],
        "warnings": d.warnings,
        "patches": d.patches,
        "policy_revision": d.revision,
        "engine": d.engine,
        "decision_ms": d.duration_ms,
        "error": d.error,
        "cached": d.cached,
        "input_hash": d.input_hash,
    }


def forward(request_id: str, operation: str, who: Who, plan: Plan, backend: str, result: CallResult | None,
            error: SpinError | None = None) -> Record:
    """What a backend did with one approved call; with no result, the forward failed (`error` says how)."""
    return {
        "type": "forward",
        **_request(request_id, operation, who, plan),
        "call_id": result.call_id if result else None,
        "backend": backend,
        "object": {"kind": result.kind, "name": result.name} if result else None,
        "backend_result": result.action if result else "failed",
        "backend_message": (result.message if result else "") or (error.message if error else ""),
        "error": error.kind if error else None,
    }


def nothing_to_undo(request_id: str, who: Who, plan: Plan, backend: str) -> Record:
    """A rollback after a failed `up` that found nothing the `up` had created."""
    return forward(request_id, "rollback", who, plan, backend, None) | {
        "backend_result": "absent", "backend_message": "nothing had been created"}


def drift(request_id: str, operation: str, who: Who, plan: Plan, backend: str, differences: list[str],
          revision: str = "") -> Record:
    """What runs differs from what was decided (read back after an apply); the workload was stopped."""
    return {"type": "drift", **_request(request_id, operation, who, plan), "backend": backend,
            "policy_revision": revision, "differences": list(differences)}


def takeover(request_id: str, operation: str, who: Who, plan: Plan, previous: dict[str, Any], found: int,
             outcome: str) -> Record:
    """An `up` or `down` that died mid-way (its gateway replica or process killed), as the next operation on
    the project found it in the journal its lock carries, and what that operation made of it."""
    kept = ("operation", "request_id", "holder", "phase", "started", "updated", "new_project")
    return {"type": "takeover", **_request(request_id, operation, who, plan),
            "previous": {k: previous.get(k) for k in kept} | {"objects": len(previous.get("objects") or [])},
            "found_objects": found, "outcome": outcome[:500]}


def refusal(status: int, error: Any, detail: str, method: str, path: str, source: str | None,
            who: Who | None) -> Record:
    """An answer that refused a request no other record covers (401, 403, 422, 5xx): every refusal is on record."""
    return {"type": "refusal", "status": status, "error": error, "detail": detail[:500], "method": method,
            "path": path[:200], "source": source, "user": who._user() if who else None,
            "token": who._token() if who else None}


def access_refused(request_id: str, operation: str, target: str, who: Who, message: str) -> Record:
    """A refusal before any policy decision: someone else's project, a power the caller lacks, a token's scope.

    `target` goes in `project`: the project, or what was refused (a path, "reload the policy").
    """
    return {
        "type": "access", "request_id": request_id, "operation": operation, "project": target,
        "user": who._user(), "token": who._token(), "source": who.source,
        "decision": "deny", "violations": [{"rule": "access", "message": message}],
    }


def login_refused(typed: str, source: str | None, message: str, *, account: str | None = None,
                  uid: int | None = None) -> Record:
    """A refused login, never the password.

    `typed` is the name as sent (escaped by the caller); `account` and `uid` the user the identity source
    resolved it to, when it did. `user.name` is the account (so its owner and `spin audit --user` find the
    guessing at it), else the name as typed; `user.typed` is always the name as typed.
    """
    user: dict[str, Any] = {"name": account if account is not None else typed, "typed": typed}
    if uid is not None:
        user["uid"] = uid
    return {"type": "login", "user": user, "source": source,
            "decision": "deny", "violations": [{"rule": "login", "message": message}]}


def login(user: Identity, source: str | None, token_id: str, typed: str) -> Record:
    """A login: the account, and the name as typed (escaped by the caller; LDAP matches names case-insensitively)."""
    return {"type": "login", "user": {"name": user.name, "uid": user.uid, "typed": typed}, "source": source,
            "decision": "allow", "token": {"id": token_id, "kind": "user"}}


def token_created(by: Identity, token_id: str, name: str, scope: dict[str, Any], expires_at: int) -> Record:
    """A service token created: by whom, its name and scope (never the token itself)."""
    return {"type": "token", "operation": "create", "token_id": token_id, "name": name,
            "user": {"name": by.name, "uid": by.uid}, "scope": scope, "expires_at": expires_at}


def token_revoked(by: Identity, token_id: str) -> Record:
    return {"type": "token", "operation": "revoke", "token_id": token_id, "user": {"name": by.name, "uid": by.uid}}


def policy_reload(decision: str, trigger: str, old: str, new: str | None, policy_dir: str, *, by: Who | None = None,
                  reason: str | None = None, retired_rules: list[str] | tuple[str, ...] = (),
                  decision_cache: str | None = None) -> Record:
    """A policy revision put live (decision allow) or a candidate refused (deny, with the reason).

    `trigger` is what noticed the change (watcher: the folder changed; request: POST /v1/policy/reload, made
    by `by`); `old` the revision deciding before, `new` the candidate (None: the folder could not be read).
    """
    policy: dict[str, Any] = ({"old": old, "new": new, **({"retired_rules": list(retired_rules)} if retired_rules else {})}
                              if decision == "allow" else {"live": old, "candidate": new})
    return {"type": "reload", "operation": "policy-reload", "decision": decision, "trigger": trigger,
            "policy_dir": policy_dir, "policy": policy, "old_revision": old, "new_revision": new,
            # "on", or "off: why" (a library using non-deterministic built-ins): what the new revision may cache
            **({"decision_cache": decision_cache} if decision_cache else {}),
            **({"user": by._user(), "token": by._token(), "source": by.source} if by else {}),
            **({"violations": [{"rule": "policy-reload", "message": reason}]} if decision == "deny" else {})}


def logout(user: Identity, token_id: str, source: str | None) -> Record:
    """A user revoked their own token (`spin logout`)."""
    return {"type": "token", "operation": "logout", "token_id": token_id, "user": {"name": user.name, "uid": user.uid},
            "source": source}


def user_tokens_revoked(by: Identity, target: str, cutoff: int, source: str | None) -> Record:
    """An administrator revoked every token of `target` issued at or before `cutoff` (seconds since the epoch)."""
    return {"type": "token", "operation": "revoke-user", "target_user": target, "revoked_before": cutoff,
            "user": {"name": by.name, "uid": by.uid}, "source": source}


def recovery(torn: bytes) -> Record:
    """After a power cut: the bytes of a partial last line, kept rather than dropped."""
    return {"type": "recovery", "detail": "a partial record from a crash was moved into this record",
            "torn_bytes_b64": base64.b64encode(torn).decode()}


def gap(detail: str, **head: Any) -> Record:
    """On start: the log ends before the record the head file names (or the head is missing)."""
    return {"type": "gap", "detail": detail, **head}


def admission(request_id: str, phase: str, kubernetes_user: dict[str, Any], user: dict[str, Any],
              target: dict[str, Any], verb: str, *, decided: Decision | None = None, plan: Plan | None = None,
              dry_run: bool = False, rule: str = "", message: str = "", requested_by_ignored: str | None = None,
              passed: bool = False) -> Record:
    """One call the cluster's API server put to the admission webhook (`via: admission`).

    `kubernetes_user` is the caller as the API server names it ({username, groups}); `user` the facility
    identity it was decided as ({name, uid}), or the Kubernetes name when it has none. A call refused or
    passed before any policy decision (unknown user, a namespace outside every project, the cluster's own
    machinery) has no `decided` and carries `rule` and `message` instead. `requested_by_ignored` is an
    `spin.io/requested-by` annotation sent by someone other than the gateway: not believed.
    """
    record: Record = {
        "type": "decision", "via": "admission", "phase": phase, "request_id": request_id,
        "user": user, "kubernetes_user": kubernetes_user, "token": None, "source": None,
        "project": plan.project if plan else None, "facility_project": plan.facility_project if plan else None,
        "namespace": target.get("namespace"), "operation": "admission", "verb": verb,
        "call_id": request_id, "object": target, "dry_run": dry_run,
    }
    if requested_by_ignored is not None:
        record["requested_by_ignored"] = requested_by_ignored
    if decided is None:
        return record | {"decision": "allow" if passed else "deny", "passed_without_policy": passed,
                         "violations": [] if passed else [{"rule": rule, "message": message, "path": ""}],
                         "detail": message if passed else "", "warnings": [], "patches": [],
                         "policy_revision": "", "engine": "", "decision_ms": 0.0, "error": None,
                         "cached": None, "input_hash": None}
    return record | {
        "decision": "allow" if decided.allowed else "deny", "passed_without_policy": False, "detail": "",
        "violations": [v.model_dump() for v in decided.violations],
        "warnings": decided.warnings, "patches": decided.patches, "policy_revision": decided.revision,
        "engine": decided.engine, "decision_ms": decided.duration_ms, "error": decided.error,
        "cached": decided.cached, "input_hash": decided.input_hash,
    }
