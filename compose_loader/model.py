"""The canonical compose model as the gateway receives it: checked before anything trusts it.

A request body is hostile until proven otherwise: types, sizes, names and
paths are checked here, so the translator can rely on them. Unknown service
keys are kept (the translator reports each as mapped, approximated or refused).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interceptor.errors import ComposeError

MAX_SERVICES = 200
MAX_MODEL_BYTES = 2 << 20
_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Port(_Open):
    target: int = Field(ge=1, le=65535)
    published: str | None = Field(default=None, pattern=r"^[0-9]{1,5}(-[0-9]{1,5})?$")
    host_ip: str | None = Field(default=None, max_length=64)
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    mode: str = "ingress"


class Volume(_Open):
    type: Literal["bind", "volume", "tmpfs", "npipe", "cluster", "image"]
    source: str | None = Field(default=None, max_length=4096)
    target: str = Field(min_length=1, max_length=4096)
    read_only: bool = False

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path in the container")
        return value


class Dependency(_Open):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = "service_started"
    required: bool = True
    restart: bool = False


class FileRef(_Open):
    source: str = Field(pattern=_NAME)
    target: str | None = Field(default=None, max_length=4096)
    uid: str | None = None
    gid: str | None = None
    mode: int | str | None = None


class Healthcheck(_Open):
    test: list[str] | str | None = None
    interval: str | None = None
    timeout: str | None = None
    retries: int | None = Field(default=None, ge=0, le=1000)
    start_period: str | None = None
    start_interval: str | None = None
    disable: bool = False


class Service(_Open):
    image: str | None = Field(default=None, max_length=1024)
    build: dict[str, Any] | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list, max_length=1000)
    expose: list[str] = Field(default_factory=list)
    volumes: list[Volume] = Field(default_factory=list, max_length=200)
    depends_on: dict[str, Dependency] = Field(default_factory=dict)
    secrets: list[FileRef] = Field(default_factory=list)
    configs: list[FileRef] = Field(default_factory=list)
    networks: dict[str, dict[str, Any] | None] | None = None
    healthcheck: Healthcheck | None = None
    user: str | None = Field(default=None, max_length=64)
    privileged: bool = False
    read_only: bool = False
    cap_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    security_opt: list[str] = Field(default_factory=list)
    profiles: list[str] = Field(default_factory=list)


class ComposeModel(_Open):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    services: dict[str, Service]
    networks: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    volumes: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    secrets: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    configs: dict[str, dict[str, Any] | None] = Field(default_factory=dict)


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_model(model: Any) -> dict[str, Any]:
    """The model, checked; ComposeError naming the service and field otherwise."""
    if not isinstance(model, dict):
        raise ComposeError("the compose model must be an object", hint="Send the output of `spin config --format json`.")
    size = len(json.dumps(model, default=str))
    if size > MAX_MODEL_BYTES:
        raise ComposeError(f"the compose model is {size} bytes, more than {MAX_MODEL_BYTES}")
    services = model.get("services")
    if not isinstance(services, dict) or not services:
        raise ComposeError("the compose model has no services", hint="Define at least one service.")
    if len(services) > MAX_SERVICES:
        raise ComposeError(f"{len(services)} services, more than {MAX_SERVICES} in one project")
    for name in services:
        if not isinstance(name, str) or not re.match(_NAME, name):
            raise ComposeError(f"service name {name!r} is not valid",
                               hint="Use letters, digits, '_', '-' and '.', starting with a letter or digit, at most 63.")
    try:
        ComposeModel.model_validate(model)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ComposeError(f"{_where(first['loc'])}: {first['msg']}" + (
            f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""),
            hint="`spin config --format json` shows the model your files produce.") from None
    return model
