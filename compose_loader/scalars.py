"""Scalars written the way Docker Compose (Go) writes them: numbers as fmt %v does, durations as time.Duration does."""

from __future__ import annotations

import math
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
