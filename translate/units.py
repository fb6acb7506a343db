"""Compose durations, byte sizes and CPU counts as Kubernetes writes them."""

from __future__ import annotations

import math
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)b?$", re.IGNORECASE)
_POW = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def seconds(duration: str) -> float:
    """A Go duration as compose writes it ('1m30s', '500ms', '2s') in seconds; ValueError otherwise."""
    text = duration.strip()
    if not text:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"{duration!r} is not a duration like 30s or 1m30s")
    return total


def whole_seconds(duration: str, minimum: int = 0) -> int:
    """Rounded up: Kubernetes counts whole seconds, and a shorter wait than asked would be a surprise."""
    return max(minimum, math.ceil(seconds(duration)))


def byte_count(size: str | int) -> int:
    """Compose's byte sizes ('64m', '1gb', 1024) as bytes (powers of 1024, as Docker reads them)."""
    if isinstance(size, bool):
        raise ValueError("a size cannot be true or false")
    if isinstance(size, int):
        if size < 0:
            raise ValueError("a size cannot be negative")
        return size
    match = _BYTES.match(size.strip())
    if not match:
        raise ValueError(f"{size!r} is not a size like 512m or 2g")
    return int(float(match.group(1)) * 1024 ** _POW[match.group(2).lower()])


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
    """A file mode: compose writes it as an octal string ('0440') or the number itself."""
    if isinstance(mode, bool):
        raise ValueError("a mode cannot be true or false")
    value = int(mode, 8) if isinstance(mode, str) else int(mode)
    if not 0 <= value <= 0o777:
        raise ValueError(f"{mode!r} is not a file mode between 0000 and 0777")
    return value
