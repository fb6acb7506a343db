"""Durations and byte sizes as Docker Compose reads them, kept once.

The loader prints them as Docker Compose does and the translator turns them
into Kubernetes fields; both parse with these functions, so a size the loader
accepts is a size the translator maps (the copies once disagreed on `tb` and
`p`). The rules are Go's: time.ParseDuration, and go-units' RAMInBytes (binary
units k, m, g, t, p, each with an optional `i` and `b`, one optional space).
"""

from __future__ import annotations

import re
from fractions import Fraction

_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?) ?([kmgtp]?)(i?)(b?)$", re.IGNORECASE)
_POWER = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_duration(text: str) -> int | None:
    """Go's time.ParseDuration ("1m30s", "1.5s", "500ms") in nanoseconds; None if it is not one."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return 0
    if not body:
        return None
    total, pos = Fraction(0), 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if not m or m.group(1) in ("", "."):
            return None
        total += Fraction(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return sign * int(total)


def _fraction(value: int, digits: int) -> str:
    whole, rest = divmod(value, 10**digits)
    frac = str(rest).rjust(digits, "0").rstrip("0")
    return f"{whole}.{frac}" if frac else str(whole)


def go_duration(ns: int) -> str:
    """Go's Duration.String(): 1m30s, 1h0m0s, 500ms, 1.5s, 1µs."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_fraction(ns, 3)}µs"
    if ns < 10**9:
        return f"{sign}{_fraction(ns, 6)}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = _fraction(rest, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def seconds(duration: str) -> float:
    """A compose duration in seconds; ValueError if it is not one or is negative."""
    ns = parse_duration(duration) if isinstance(duration, str) else None
    if ns is None:
        raise ValueError(f"{duration!r} is not a duration like 30s or 1m30s")
    if ns < 0:
        raise ValueError(f"{duration!r} is negative")
    return ns / 1e9


def byte_count(size: str | int) -> int:
    """Compose's byte sizes ('64m', '1.5gb', '2 GiB', 1024) as bytes: powers of 1024, as Docker reads them."""
    if isinstance(size, bool):
        raise ValueError("a size cannot be true or false")
    if isinstance(size, int):
        if size < 0:
            raise ValueError("a size cannot be negative")
        return size
    if not isinstance(size, str):
        raise ValueError(f"{size!r} is not a size like 512m or 2g")
    match = _SIZE.match(size.strip())
    if not match or (match.group(3) and not match.group(2)):  # "5ib" names no unit
        raise ValueError(f"{size!r} is not a size like 512m or 2g")
    return int(float(match.group(1)) * 1024 ** _POWER[match.group(2).lower()])
