"""Who a service token acts as: the named user, cut down to the token's scope.

A facility system (a job prologue) sends its token and `X-Spin-User`. The scope
decides whom it may act for (users, or members of its facility projects) and, as
importantly, on what: with projects in its scope it reads and changes only
compose projects filed under those facility projects, whatever else the user
belongs to, and it never carries the user's administrator powers unless the
scope grants the named power `admin`.
"""

from __future__ import annotations

from spin_gateway.gateway_api.auth.names import check_name
from spin_gateway.gateway_api.auth.service_tokens import TokenStore
from spin_gateway.gateway_api.auth.tokens import TokenClaims
from spin_gateway.gateway_api.gateway import Caller, Gateway
from spin_gateway.vocabulary.errors import AuthError, Forbidden, NotFound


def admin_groups(gateway: Gateway) -> set[str]:
    """Every group name that makes an administrator: the identity source's and the policy's (site data)."""
    names = {"spin-admins"}
    provider = getattr(gateway.identity, "admin_group", None)
    if isinstance(provider, str):
        names.add(provider)
    site = gateway.policy.engine.bundle.site.get("admin_group")
    if isinstance(site, str):
        names.add(site)
    return names


def service_caller(gateway: Gateway, registry: TokenStore, claims: TokenClaims, act_as: str, operation: str,
                   source: str | None, path: str) -> Caller:
    record = registry.check_active(claims.token_id)
    act_as = act_as.strip()
    if not act_as:
        raise AuthError("a service token must name the user it acts for in the X-Spin-User header",
                        hint="Send X-Spin-User: <the job's user>.")
    check_name(gateway, act_as, "X-Spin-User", source=source, token=(claims.token_id, "service"))
    try:
        identity = gateway.identity.lookup(act_as)
    except NotFound:
        raise AuthError(f"X-Spin-User names no user the facility knows ({act_as[:64]!r})",
                        hint="Send the job's user name as the batch system knows it.") from None
    scope = record.scope
    caller = Caller(identity=scope.narrow(identity, admin_groups(gateway)), token_id=claims.token_id,
                    token_kind="service", source=source, scope=scope)
    reason = scope.permits(identity.name, identity.projects, operation)
    if reason:
        gateway.deny_access(caller, operation, path, Forbidden(
            reason, hint="Ask an administrator for a token with the scope you need."))
    return caller
