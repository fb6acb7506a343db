"""Compose durations, byte sizes and CPU counts as Kubernetes writes them."""

from __future__ import annotations

import math

from spin_gateway.vocabulary.units import byte_count, seconds

__all__ = ["byte_count", "file_mode", "quantity_bytes", "quantity_cpus", "seconds", "special_bits", "whole_seconds"]

def whole_seconds(duration: str, minimum: int = 0) -> int:
    """Rounded up: Kubernetes counts whole seconds, and a shorter wait than asked would be a surprise."""
    return max(minimum, math.ceil(seconds(duration)))


def quantity_bytes(size: str | int) -> str:
    """A byte size as a Kubernetes quantity: exact, in the largest binary unit that divides it."""
    n = byte_count(size)
    for suffix, power in (("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)):
        if n and n % 1024 ** power == 0:
            return f"{n // 1024 ** power}{suffix}"
    return str(n)


def quantity_cpus(cpus: float | int | str) -> str:
    """A CPU count ('0.5', 2) as a Kubernetes quantity in millicores ('500m', '2')."""
    value = float(cpus)
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise ValueError(f"{cpus!r} is not a CPU count")
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def file_mode(mode: str | int) -> int:
    """A file mode: compose writes it as an octal string ('0440') or the number itself.

    Docker Compose reads an unquoted `mode: 644` as the decimal number 644 (0o1204, printed "01204"):
    the setuid, setgid and sticky bits (0o7000) are Docker's to read but no Kubernetes mode holds them,
    so only the permission bits are returned; `special_bits` says what was left out.
    """
    value = _mode_value(mode)
    return value & 0o777


def special_bits(mode: str | int) -> int:
    return _mode_value(mode) & 0o7000


def _mode_value(mode: str | int) -> int:
    if isinstance(mode, bool):
        raise ValueError("a mode cannot be true or false")
    try:
        value = int(mode, 8) if isinstance(mode, str) else int(mode)
    except ValueError:
        raise ValueError(f"{mode!r} is not an octal file mode") from None
    if not 0 <= value <= 0o7777:
        raise ValueError(f"{mode!r} is not a file mode between 0000 and 07777")
    return value
