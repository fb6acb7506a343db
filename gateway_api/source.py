"""Who is on the other end, for the audit's `source`: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request


def _networks(trusted: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(t, strict=False) for t in trusted]


def _trusted(address: str | None, networks) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_source(request: Request, trusted: list[str]) -> str | None:
    """The connecting address; if that is a trusted proxy, the last address in X-Forwarded-For that is not one.

    Walking from the right: every proxy appends the address it saw, so only the entries our own proxies
    added can be believed; anything further left was written by the client.
    """
    peer = request.client.host if request.client else None
    networks = _networks(trusted)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy that forwards garbage: the proxy is what we know
    return hops[0] if hops else peer
