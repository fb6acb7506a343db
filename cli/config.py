"""Where the CLI finds its gateway and token: flags, then SPIN_GATEWAY/SPIN_TOKEN, then the user's config file."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_GATEWAY = "http://127.0.0.1:8470"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "spin"


def config_file() -> Path:
    return config_dir() / "config.json"


def read_config() -> dict:
    try:
        return json.loads(config_file().read_text())
    except (OSError, ValueError):
        return {}


def write_config(values: dict) -> Path:
    """Stores the token with mode 0600 in a 0700 folder: it acts as the user."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = config_file()
    data = {**read_config(), **values}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(path, 0o600)
    return path


def gateway_url(flag: str | None = None) -> str:
    return (flag or os.environ.get("SPIN_GATEWAY") or read_config().get("gateway") or DEFAULT_GATEWAY).rstrip("/")


def token(flag: str | None = None) -> str | None:
    return flag or os.environ.get("SPIN_TOKEN") or read_config().get("token")


def forget_token() -> bool:
    """Remove the stored token (`spin logout`); True if there was one."""
    data = read_config()
    if "token" not in data:
        return False
    del data["token"]
    path = config_file()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    return True
