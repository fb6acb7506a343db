"""Secrets and configs read on the user's machine, so the gateway receives their content, never a path.

The canonical model names a secret's file (or environment variable); the
gateway cannot and must not read paths on its own disk. Before a compose model
leaves the CLI (convert, up, check), each secret and config that has no inline
content gets its content from the file or variable it names. Errors name the
secret and say what to do; they never print the content.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spin_gateway.vocabulary.errors import ComposeError

MAX_BYTES = 1 << 20  # a Kubernetes Secret or ConfigMap holds at most 1 MiB


def inline_file_sources(model: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of the model with `content` filled for every file- or environment-based secret and config used."""
    environ = os.environ if environ is None else environ
    out = copy.deepcopy(model)
    for what in ("secrets", "configs"):
        used = {ref.get("source") for svc in (out.get("services") or {}).values() for ref in svc.get(what) or []}
        for name, spec in (out.get(what) or {}).items():
            if name not in used or not isinstance(spec, dict) or spec.get("external") or spec.get("content") is not None:
                continue
            where = f"{what}.{name}"
            if spec.get("file"):
                path = Path(spec["file"])
                try:
                    size = path.stat().st_size
                    if size > MAX_BYTES:
                        raise ComposeError(f"{where}: the file {path} is {size} bytes; Kubernetes keeps at most {MAX_BYTES}",
                                           hint="Mount large files from a volume instead.")
                    data = path.read_bytes()
                except FileNotFoundError:
                    raise ComposeError(f"{where}: the file {path} does not exist",
                                       hint="Create it, or fix `file:` (relative paths start at the compose file's folder).") from None
                except IsADirectoryError:
                    raise ComposeError(f"{where}: {path} is a folder; a {what[:-1]} is one file",
                                       hint="Point `file:` at a file.") from None
                except PermissionError:
                    raise ComposeError(f"{where}: the file {path} cannot be read (permission denied)",
                                       hint="Make it readable by you.") from None
                try:
                    spec["content"] = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise ComposeError(f"{where}: the file {path} is not UTF-8 text",
                                       hint="Store binary data base64-encoded and decode it in the container.") from None
            elif spec.get("environment"):
                var = spec["environment"]
                if var not in environ:
                    raise ComposeError(f"{where}: the environment variable {var} is not set",
                                       hint=f"Set {var} before running spin.")
                spec["content"] = environ[var]
    return out
