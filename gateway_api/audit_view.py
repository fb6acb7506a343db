"""GET /v1/audit's rules: whose records a caller may read, and pages that run from the newest back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spin_gateway.audit.query import Viewer
from spin_gateway.audit.query import page as query_page
from spin_gateway.gateway_api.gateway import Caller, Gateway
from spin_gateway.gateway_api.schemas import AuditPage
from spin_gateway.vocabulary.errors import Forbidden, SpinError


def viewer_for(gateway: Gateway, who: Caller, user: str | None) -> Viewer | None:
    """None for an administrator (every record); others read their own and their facility projects'.

    Naming a user outside those projects is refused (and audited) rather than answered with an empty page.
    """
    if who.identity.admin and not (who.scope and who.scope.projects):  # a project scope binds admins too
        return None
    mine = frozenset(who.identity.projects)
    if user not in (None, who.identity.name) and not _shares_a_project(gateway, user, mine):
        gateway.deny_access(who, "read audit", f"audit?user={user}", Forbidden(
            f"only administrators read the audit records of users outside your facility projects; "
            f"you ({who.identity.name}) read your own and those of {', '.join(sorted(mine)) or 'your projects'}",
            hint="Leave out ?user=, or ask an administrator."))
    # A service token scoped to projects reads only those projects' records, not all its user's.
    return Viewer(who.identity.name, mine, own=who.scope is None or not who.scope.projects)


def _shares_a_project(gateway: Gateway, name: str, projects: frozenset[str]) -> bool:
    try:
        return bool(projects & set(gateway.identity.lookup(name).projects))
    except SpinError:  # no such user (or the directory is down): nothing shared that we can show
        return False


def page(records: Iterable[dict[str, Any]], limit: int, cursor: str | None) -> AuditPage:
    """Up to `limit` records (oldest first) older than the record `cursor` names (audit/query.py's page)."""
    items, next_cursor = query_page(records, limit, cursor)
    return AuditPage(items=items, next_cursor=next_cursor)
