"""Every error spin raises, in one tree.

    SpinError(message, hint)                  exit 2, HTTP 400 unless a subclass says otherwise
    ├── UsageError                            bad flags or arguments (exit 2, 400)
    ├── ComposeError                          a compose file that cannot be read as Docker Compose reads it (exit 2, 422)
    ├── TranslateError                        a compose model that has no faithful Kubernetes form (exit 2, 422)
    ├── AuthError                             no or bad credentials (exit 2, 401)
    │   ├── LoginRefused                      wrong name or password; shown as AuthError, names the account for the audit
    │   └── Forbidden                         known caller, not allowed to do this (exit 1, 403)
    ├── NotFound                              no such project, token or object (exit 2, 404)
    ├── Conflict                              the name is taken by someone else (exit 2, 409)
    ├── PolicyError                           the policy engine could not decide (fail closed: exit 1, 503)
    │   ├── PolicyLoadError                   the rego/ folder or site data does not compile (exit 2, 500)
    │   └── OpaUnavailable                    the OPA server did not answer (exit 3, 503)
    ├── PolicyDenied                          at least one call of the plan was refused (exit 1, 403)
    ├── IdentityUnavailable                   LDAP or the users file cannot be read (exit 3, 503)
    ├── AuditError                            the audit log cannot be written: nothing is forwarded (exit 3, 503)
    ├── ForwardError                          the backend refused or failed to run the decided objects (exit 4, 502)
    │   ├── PodmanError
    │   │   ├── PodmanUnsupported             podman cannot run this as decided (one machine); nothing changed (exit 2, 422)
    │   │   └── PodmanUnavailable             podman is missing or does not answer (exit 3, 503)
    │   ├── KubeApiError                      carries the Kubernetes Status reason and code
    │   │   └── KubeUnreachable               the Kubernetes API does not answer or cannot be configured (exit 3, 503)
    │   ├── BackendUnavailable                the backend (or the gateway, seen from the CLI) cannot be reached (exit 3, 503)
    │   ├── WorkloadFailed                    the workload did not start or become ready: crash loop, missing image,
    │   │   │                                 taken host port; names the kubelet's or podman's reason (exit 4, 502)
    │   │   └── WaitTimeout                   `--wait` ran out of time; says what is still not ready and why (exit 4, 504)
    │   └── RuntimeDrift                      what runs differs from the decision: workload stopped, audited as drift (exit 1, 409)
    └── InternalError                         the gateway failed unexpectedly: a bug (exit 3, 500)

Exit codes are a contract (docs/researcher.md, "Exit codes"): 0 done, 1 refused (by policy, or
access), 2 bad input or usage (nothing changed), 3 the gateway or the backend could not be reached
(try again later), 4 the workload failed to become ready (the reason says why).

Every error carries a `hint` that says what to do next. Only cli/ turns these
into exit codes and only gateway_api/ turns them into HTTP answers; the
mapping lives on the classes so both agree.
"""

from __future__ import annotations

from typing import Any


class SpinError(Exception):
    exit_code = 2
    http_status = 400
    default_hint = ""

    def __init__(self, message: str, hint: str | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.details = details

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_body(self) -> dict[str, Any]:
        """The one error body of the REST API: {error, detail, hint}."""
        body: dict[str, Any] = {"error": self.kind, "detail": self.message, "hint": self.hint}
        if self.details:
            body["data"] = self.details
        return body


class UsageError(SpinError):
    default_hint = "Run the command with --help to see its options."


class ComposeError(SpinError):
    http_status = 422
    default_hint = "Fix the compose file; `spin config` shows how it is read."


class TranslateError(SpinError):
    http_status = 422
    default_hint = "`spin convert` shows the Kubernetes objects; change or remove the field named above."


class AuthError(SpinError):
    http_status = 401
    default_hint = "Run `spin login`, or set SPIN_TOKEN to a valid token."


class LoginRefused(AuthError):
    """A refused login. `account` and `uid` name the user the typed name resolved to, when it resolved:
    for the audit record only. The answer never shows them (it is the same whether or not the user exists)."""

    def __init__(self, message: str, hint: str | None = None, *, account: str | None = None,
                 uid: int | None = None, **details: Any):
        super().__init__(message, hint, **details)
        self.account = account
        self.uid = uid

    @property
    def kind(self) -> str:
        return "AuthError"  # what clients see is an AuthError like any other


class Forbidden(AuthError):
    exit_code = 1
    http_status = 403
    default_hint = "Ask an administrator of the gateway if you need this access."


class NotFound(SpinError):
    http_status = 404
    default_hint = "`spin ps` lists your projects."


class Conflict(SpinError):
    http_status = 409
    default_hint = "Choose another project name with -p/--project-name."


class PolicyError(SpinError):
    exit_code = 1
    http_status = 503
    default_hint = "The call was refused because the policy could not decide (fail closed). Tell the gateway's administrators."


class PolicyLoadError(PolicyError):
    exit_code = 2
    http_status = 500
    default_hint = "Fix the file named above; `spin policy test` checks the whole folder."


class OpaUnavailable(PolicyError):
    exit_code = 3
    http_status = 503
    default_hint = "Check that the OPA server is running and reachable from the gateway."


class PolicyDenied(SpinError):
    exit_code = 1
    http_status = 403
    default_hint = "Change the service as each message says; `spin check` shows every decision without deploying."


class IdentityUnavailable(SpinError):
    exit_code = 3
    http_status = 503
    default_hint = "The identity service (LDAP or users file) is unavailable; try again shortly."


class AuditError(SpinError):
    exit_code = 3
    http_status = 503
    default_hint = "Nothing was forwarded. The gateway's administrators must free disk or fix permissions of the audit log."


#: Exit code of every error that means "the workload failed" (not the gateway's or backend's reachability).
EXIT_WORKLOAD = 4


class ForwardError(SpinError):
    exit_code = EXIT_WORKLOAD
    http_status = 502
    default_hint = "The backend did not run the project as decided; `spin ps` and `spin logs` show what runs."


class BackendUnavailable(ForwardError):
    """The one meaning of exit 3 on the backend's side: it cannot be reached now; nothing is wrong with the request."""

    exit_code = 3
    http_status = 503
    default_hint = "The backend is unavailable; run the command again once it is back: it converges."


class WorkloadFailed(ForwardError):
    """The backend took the objects, but the workload did not start or become ready (the reason says why)."""

    exit_code = EXIT_WORKLOAD
    http_status = 502
    default_hint = "`spin logs SERVICE` shows what the service printed; fix the cause above and run `spin up` again."


class PodmanError(ForwardError):
    pass


class PodmanUnsupported(PodmanError):
    """Podman on one machine cannot run this object as the policy decided it; nothing was changed."""

    exit_code = 2
    http_status = 422
    default_hint = "Change the compose file as the message says, or run the project with --backend kubernetes."


class PodmanUnavailable(BackendUnavailable, PodmanError):
    default_hint = "podman is not usable on the gateway's machine; tell the gateway's administrators."


class KubeApiError(ForwardError):
    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 reason: str | None = None, **details: Any):
        super().__init__(message, hint, status=status, reason=reason, **details)
        self.status = status
        self.reason = reason


class KubeUnreachable(BackendUnavailable, KubeApiError):
    """The Kubernetes API did not answer (or its client cannot be configured): exit 3, like any unreachable backend."""

    default_hint = "Check that the cluster is up and that --kubeconfig/--context point at it."


class WaitTimeout(WorkloadFailed):
    exit_code = EXIT_WORKLOAD
    http_status = 504
    default_hint = "`spin ps` and `spin logs` show what is still starting."


class RuntimeDrift(ForwardError):
    """What runs differs from what the policy decided, read back after the apply: the workload is stopped.

    A ForwardError (the backend ran something), but refused like a policy denial: exit 1, HTTP 409.
    """

    exit_code = 1
    http_status = 409
    default_hint = ("The gateway stopped the project's workload: the backend (or an admission webhook or the "
                    "runtime) ran something the policy never decided. The difference is named above and audited "
                    "as a `drift` record; tell the site's security staff.")


class InternalError(SpinError):
    """What the gateway answers for an exception that is not a SpinError; the CLI's class for any bare 5xx."""

    exit_code = 3
    http_status = 500
    default_hint = "This is a bug in the gateway; the administrators have the log."


__all__ = [
    "AuditError", "AuthError", "BackendUnavailable", "ComposeError", "Conflict", "Forbidden", "ForwardError",
    "IdentityUnavailable", "InternalError", "KubeApiError", "KubeUnreachable", "LoginRefused", "NotFound",
    "OpaUnavailable", "PodmanError", "PodmanUnavailable", "PodmanUnsupported", "PolicyDenied", "PolicyError",
    "PolicyLoadError", "RuntimeDrift", "SpinError", "TranslateError", "UsageError", "WaitTimeout",
    "WorkloadFailed",
]
