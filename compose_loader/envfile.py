"""`.env` and env_file files, as Docker Compose reads them (KEY=VALUE, quotes, `export`, comments)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from interceptor.errors import ComposeError

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:([=:])\s*(.*?))?\s*$")
MAX_ENV_BYTES = 1 << 20


def _unquote(raw: str, lookup: Mapping[str, str]) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]  # single quotes: literal
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body = raw[1:-1]
        return (body.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"').replace("\\\\", "\\"))
    # unquoted: an inline comment needs a space before '#'
    value = re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()
    return value


def parse_env_text(text: str, source: str, lookup: Mapping[str, str] | None = None) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ComposeError(f"{source}:{i}: cannot read {stripped[:40]!r} as KEY=VALUE",
                               hint="Each line is KEY=VALUE; quote values with spaces.")
        key, sep, raw = m.group(1), m.group(2), m.group(3)
        if sep is None:
            values[key] = (lookup or {}).get(key)  # a bare KEY takes the caller's environment, or stays unset
            continue
        raw = raw or ""
        # a quoted value may span lines
        for quote in ('"', "'"):
            if raw.startswith(quote) and (len(raw) == 1 or not raw.endswith(quote)):
                while i < len(lines) and not raw.endswith(quote):
                    raw += "\n" + lines[i]
                    i += 1
        values[key] = _unquote(raw, lookup or {})
    return values


def read_env_file(path: Path, lookup: Mapping[str, str] | None = None, required: bool = True) -> dict[str, str | None]:
    try:
        if path.stat().st_size > MAX_ENV_BYTES:
            raise ComposeError(f"{path}: env file larger than {MAX_ENV_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise ComposeError(f"env file {path} not found", hint="Create it, fix the path, or mark it `required: false`.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"env file {path} cannot be read: {exc}") from None
    return parse_env_text(text, str(path), lookup)
