"""Variable interpolation as Docker Compose does it: ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e},
${VAR:+a}, ${VAR+a}, nested defaults, $VAR, and $$ for a literal dollar.

A literal dollar stays `$$` in the canonical model, as `docker compose config` prints it;
the translator turns it into the single `$` the container sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from spin_gateway.vocabulary.errors import ComposeError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Missing(Exception):
    def __init__(self, name: str, message: str):
        self.name, self.message = name, message


def _braced(text: str, start: int, env: Mapping[str, str], warn: Callable[[str], None]) -> tuple[str, int]:
    """Parse ${...} starting after '${'; returns (value with literal dollars as $$, index after '}')."""
    m = _NAME.match(text, start)
    if not m:
        raise ComposeError(f"invalid interpolation format for {text[start - 2:start + 20]!r}",
                           hint="Use ${NAME}, ${NAME:-default} or $$ for a literal dollar.")
    name = m.group(0)
    i = m.end()
    if i < len(text) and text[i] == "}":
        if name not in env:
            warn(f"the {name} variable is not set; defaulting to a blank string")
        return _esc(env.get(name, "")), i + 1
    op = None
    for candidate in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(candidate, i):
            op = candidate
            break
    if op is None:
        raise ComposeError(f"invalid interpolation format for {text[start - 2:i + 10]!r}",
                           hint="Use ${NAME}, ${NAME:-default} or $$ for a literal dollar.")
    i += len(op)
    # The word runs to the matching brace; it may itself hold interpolations.
    word, i = _substitute(text, i, env, warn, stop_at_brace=True)
    value = env.get(name)
    if value is None or (":" in op and value == ""):
        if op in (":-", "-"):
            return word, i
        if op in (":+", "+"):
            return "", i
        raise _Missing(name, word)
    return (word, i) if op in (":+", "+") else (_esc(value), i)


def _esc(value: str) -> str:
    return value.replace("$", "$$")


def _substitute(text: str, i: int, env: Mapping[str, str], warn, stop_at_brace: bool = False) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while i < n:
        ch = text[i]
        if stop_at_brace and ch == "}":
            return "".join(out), i + 1
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$$")
            i += 2
        elif nxt == "{":
            value, i = _braced(text, i + 2, env, warn)
            out.append(value)
        else:
            m = _NAME.match(text, i + 1)
            if m:
                name = m.group(0)
                if name not in env:
                    warn(f"the {name} variable is not set; defaulting to a blank string")
                out.append(_esc(env.get(name, "")))
                i = m.end()
            else:
                out.append("$$")  # a dollar before no name is kept literally, as Docker Compose does
                i += 1
    if stop_at_brace:
        raise ComposeError(f"invalid interpolation format: missing '}}' in {text!r}",
                           hint="Close the ${...}, or write $$ for a literal dollar sign.")
    return "".join(out), i


def interpolate_string(text: str, env: Mapping[str, str], warn: Callable[[str], None], where: str) -> str:
    try:
        return _substitute(text, 0, env, warn)[0]
    except _Missing as exc:
        detail = f": {exc.message}" if exc.message else ""
        raise ComposeError(f"{where}: required variable {exc.name} is missing a value{detail}",
                           hint=f"Set {exc.name} in the environment or in .env.") from None
    except ComposeError as exc:
        raise ComposeError(f"{where}: {exc.message}", exc.hint) from None


def interpolate(value: Any, env: Mapping[str, str], warn: Callable[[str], None], where: str = "") -> Any:
    """Interpolate every string value (never keys) of a YAML tree."""
    if isinstance(value, str):
        return interpolate_string(value, env, warn, where)
    if isinstance(value, dict):
        # keys are not interpolated; a dollar in one is printed escaped, as in every string of the model
        return {_esc(k) if isinstance(k, str) else k: interpolate(v, env, warn, f"{where}.{k}" if where else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, warn, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def unescape(text: str) -> str:
    """The string the container sees: `$$` is one dollar."""
    return text.replace("$$", "$")
