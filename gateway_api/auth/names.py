"""Names that come with a request (a login's user name, X-Spin-User, ?user=) hold no control characters.

Refused at the API's edge with a 401 that names the characters (as escapes), and
audited with the name escaped, so neither the record nor anyone's terminal
carries the raw bytes (issue #20: a forged audit line and a changed terminal
title on the security officer's screen).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from spin_gateway.vocabulary.errors import AuthError
from spin_gateway.vocabulary.text import control_characters, printable

if TYPE_CHECKING:
    from spin_gateway.gateway_api.gateway import Gateway

#: How much of a refused name the audit record keeps.
MAX_RECORDED = 128


def name_error(name: str, what: str) -> AuthError | None:
    """The refusal for a name with control characters in it, or None if it has none."""
    bad = control_characters(name)
    if not bad:
        return None
    return AuthError(f"the {what} {printable(name[:MAX_RECORDED])!r} holds control characters ({' '.join(bad)}); "
                     "user names never do", hint="Send the name as the facility spells it.")


def check_name(gateway: Gateway, name: str, what: str, *, source: str | None,
               token: tuple[str, str] | None = None, record_type: str = "access") -> None:
    """Raise (after auditing the refusal) if name holds control characters."""
    exc = name_error(name, what)
    if exc is None:
        return
    record = {"type": record_type, "request_id": uuid.uuid4().hex, "operation": "authenticate", "source": source,
              "user": {"name": printable(name[:MAX_RECORDED])}, "decision": "deny",
              "violations": [{"rule": "identity-name", "message": exc.message}]}
    if token:
        record["token"] = {"id": token[0], "kind": token[1]}
    gateway.audit.write(record)
    raise exc
