"""Scalars written the way Docker Compose (Go) writes them: numbers as fmt %v does, durations as time.Duration does."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any


def go_float(value: float) -> str:
    """Go's %v for float64: shortest digits; exponent form below 1e-4 or from 1e6 on (1e+06, 1.5e-05)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits = repr(abs(value))  # Python's repr is the shortest round-tripping form, as Go's
    if "e" in digits:
        base, _, e = digits.partition("e")
        exponent = int(e)
        significant = base.replace(".", "").rstrip("0") or "0"
    else:
        whole, _, frac = digits.partition(".")
        frac = frac.rstrip("0")
        if whole.strip("0"):
            exponent = len(whole.lstrip("0")) - 1
            significant = (whole.lstrip("0") + frac).rstrip("0")
        else:
            stripped = frac.lstrip("0")
            exponent = -(len(frac) - len(stripped)) - 1
            significant = stripped.rstrip("0")
    sign = "-" if value < 0 else ""
    if exponent < -4 or exponent >= 6:
        rest = significant[1:]
        body = significant[0] + ("." + rest if rest else "")
        return f"{sign}{body}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{significant}"
    if len(significant) <= exponent + 1:
        return sign + significant + "0" * (exponent + 1 - len(significant))
    return f"{sign}{significant[:exponent + 1]}.{significant[exponent + 1:]}"


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}


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
