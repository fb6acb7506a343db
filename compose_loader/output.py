"""The canonical model as text, byte for byte as `docker compose config --format json` prints it."""

from __future__ import annotations

import json
from typing import Any

# Go's encoding/json escapes these even inside strings; the JSON means the same either way.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def to_json(model: dict[str, Any]) -> str:
    text = json.dumps(model, indent=2, ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)  # these characters only occur inside JSON strings
    return text
