"""`.env` and env_file files, as Docker Compose reads them.

Lines are `KEY=VALUE`, `KEY: VALUE` or `export KEY=VALUE`; `#` starts a comment
at the start of a line or after a space in an unquoted value. Values:
- 'single quoted': literal, may span lines;
- "double quoted": escapes (\\n \\t \\r \\\\ \\" \\$) and interpolation, may span lines;
- unquoted: trimmed, interpolated.
Interpolation looks first in the given environment (the shell, then `.env`),
then at the keys defined earlier in the same file. `$$` is a literal dollar.
A bare `KEY` takes the environment's value, or is left out. What follows a
closing quote on the same line is read as more statements (`A="x" B=2`).
Values returned are what the process sees (one `$`), not the model's `$$` form.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Callable, Mapping
from pathlib import Path

from spin_gateway.compose_loader.interpolation import interpolate_string, unescape
from spin_gateway.vocabulary.errors import ComposeError

MAX_ENV_BYTES = 1 << 20
_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "$": "$$"}


def _closing(text: str, start: int, quote: str) -> int:
    """Index of the quote that closes the value opened at `start`, or -1."""
    i = start + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def _double_quoted_template(body: str) -> str:
    """Backslash escapes applied; a literal dollar written `$$` so interpolation leaves it alone."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_env_text(text: str, source: str, lookup: Mapping[str, str] | None = None,
                   warn: Callable[[str], None] | None = None) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    defined: dict[str, str] = {}
    env = ChainMap(dict(lookup or {}), defined)
    warn = warn or (lambda message: None)
    pos, line_no, same_line = 0, 0, False
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        line_no += 0 if same_line else 1
        same_line = False
        here = f"{source}:{line_no}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            pos = end + 1
            continue
        m = _KEY.match(line)
        rest = line[m.end():] if m else ""
        if not m or (rest and rest[0] not in "=:"):
            # the line itself is not echoed: env files hold passwords
            raise ComposeError(f"{here}: this line is not KEY=VALUE",
                               hint="Each line is KEY=VALUE with a name of letters, digits and '_'; "
                                    "quote values that hold spaces or '#'.")
        key = m.group(1)
        if not rest:
            # a bare KEY takes its value from the environment, or is left out
            if key in (lookup or {}):
                values[key] = defined[key] = lookup[key]  # type: ignore[index]
            pos = end + 1
            continue
        start = pos + m.end() + 1
        while start < len(text) and text[start] in " \t":
            start += 1
        quote = text[start] if start < len(text) and text[start] in "'\"" else ""
        if quote:
            close = _closing(text, start, quote)
            if close < 0:
                raise ComposeError(f"{here}: the value of {key} opens a {quote} quote that is never closed",
                                   hint=f"Close the {quote} quote.")
            body = text[start + 1:close]
            line_no += body.count("\n")
            end = close  # what follows the closing quote on that line is read as more statements, as compose does
            if quote == "'":
                value = body
            else:
                value = unescape(interpolate_string(_double_quoted_template(body), env, warn, f"{here}: {key}"))
        else:
            raw = text[start:end]
            raw = re.split(r"\s#", raw, maxsplit=1)[0].strip()  # an inline comment needs a space before '#'
            value = unescape(interpolate_string(raw, env, warn, f"{here}: {key}"))
        values[key] = value
        defined[key] = value
        pos, same_line = end + 1, bool(quote)
    return values


def read_env_file(path: Path, lookup: Mapping[str, str] | None = None, required: bool = True,
                  warn: Callable[[str], None] | None = None) -> dict[str, str | None]:
    try:
        if path.stat().st_size > MAX_ENV_BYTES:
            raise ComposeError(f"{path}: env file larger than {MAX_ENV_BYTES >> 20} MiB",
                               hint="An env file holds KEY=VALUE lines; check the path.")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise ComposeError(f"env file {path} not found", hint="Create it, fix the path, or mark it `required: false`.") from None
    except UnicodeDecodeError:
        raise ComposeError(f"env file {path} is not UTF-8 text", hint="Save it as UTF-8.") from None
    except OSError as exc:
        raise ComposeError(f"env file {path} cannot be read: {exc.strerror}", hint="Check the path and its permissions.") from None
    return parse_env_text(text.removeprefix("\ufeff"), str(path), lookup, warn)
