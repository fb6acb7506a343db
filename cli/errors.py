"""The CLI's one error boundary: gateway answers become SpinErrors, SpinErrors become exit codes.

Exit codes: 0 done, 1 refused (by policy, a failed test, a broken audit chain),
2 bad usage or bad input, 3 gateway or backend unreachable (only that), 4 the
workload failed to become ready (docs/researcher.md, "Exit codes"). The codes live on
the vocabulary's classes, so the gateway's HTTP status and the CLI's exit code
for one error cannot disagree.

An error body names its class (`{"error": "PolicyDenied", "detail": ..., "hint": ...}`,
see vocabulary/errors.py `to_body`), and the class decides: the HTTP status
is read only when the type is not one the CLI knows (a proxy's HTML page, a
newer gateway). Several classes share a status (503 is an unavailable OPA,
identity source or audit log, and a policy that could not decide, exit 1),
so a status alone cannot say which.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from spin_gateway.cli.options import options
from spin_gateway.vocabulary import errors as E

#: Exit code of a command whose answer was "no" (a refused check, a failing test): the same as a policy refusal.
EXIT_REFUSED = E.PolicyDenied.exit_code

#: Every class of the vocabulary, by the name the gateway writes in `error`.
BY_TYPE: dict[str, type[E.SpinError]] = {
    name: cls for name in E.__all__
    if isinstance(cls := getattr(E, name), type) and issubclass(cls, E.SpinError)
} | {
    # The gateway's own bodies for what is not a SpinError (gateway_api/app.py's handlers).
    "InvalidRequest": E.UsageError,  # the request did not match the API's schema (a bad flag value, mostly)
}

#: Only for a body without a known type. 5xx: the gateway (or what stands before it) failed.
BY_STATUS: dict[int, type[E.SpinError]] = {
    400: E.UsageError, 401: E.AuthError, 403: E.Forbidden, 404: E.NotFound, 409: E.Conflict, 422: E.UsageError,
}


def error_from_answer(status: int, body: Any, url: str = "the gateway") -> E.SpinError:
    """The SpinError an error answer of the gateway stands for.

    `body` is the parsed JSON, or None when the answer was not JSON. Both the
    gateway's body `{error: TYPE, detail, hint, data}` and the CLI's own --json
    error shape `{error: {type, message, hint, data}}` are read.
    """
    kind = message = hint = None
    data: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            kind, message, hint, data = err.get("type"), err.get("message"), err.get("hint"), err.get("data")
        else:
            kind, message, hint, data = err, body.get("detail"), body.get("hint"), body.get("data")
    cls = BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None:
        cls = BY_STATUS.get(status) or (E.InternalError if status >= 500 else E.UsageError)
        if not message:
            message = f"{url} answered HTTP {status}" + (" without an error body" if body is None else "")
    error = cls(str(message or ""), str(hint) if hint else None)
    error.details = data if isinstance(data, dict) else {}
    return error


F = TypeVar("F", bound=Callable[..., Any])


class Refused(Exception):
    """The command has shown a negative result (a denied check, a failed test); exit with EXIT_REFUSED.

    Not a SpinError: the result is already on screen, there is no message to add.
    """

    exit_code = EXIT_REFUSED


def reports_errors(fn: F) -> F:
    """The one place errors become exit codes; every command is wrapped in it (tests/unit/test_cli_errors.py checks)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Refused as exc:
            raise typer.Exit(exc.exit_code) from None
        except E.SpinError as exc:
            # The root's --json applies to errors too; a command without a context (gateway serve) renders as text.
            ctx = kwargs.get("ctx")  # typer passes parameters by name; its context is not always a typer.Context
            options(ctx).render.error(exc)
            raise typer.Exit(exc.exit_code) from None

    wrapper.reports_errors = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
