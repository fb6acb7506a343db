"""The canonical compose model as the gateway receives it: checked before anything trusts it.

A request body is hostile until proven otherwise. Before pydantic sees it, the
body's size, nesting depth and service count are bounded; then every service
key must be one the compose specification defines (or an `x-` extension where
the specification allows one), with the type `docker compose config` prints.
The translator can then rely on the types of the fields it reads.

validate_model returns the model unchanged (no defaults added): the canonical
JSON is the contract, this module only says whether it is well-formed.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spin_gateway.vocabulary.errors import ComposeError
from spin_gateway.vocabulary.naming import PROJECT_NAME_PATTERN

MAX_SERVICES = 200
MAX_MODEL_BYTES = 2 << 20
MAX_DEPTH = 32
_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"
_RESOURCE_NAME = r"^[a-zA-Z0-9._-]{1,253}$"
_HINT = "`spin config --format json` prints the model your compose files produce; send that."

class _Strict(BaseModel):
    """No key outside the specification; `x-` extensions where the specification allows them."""

    model_config = ConfigDict(extra="allow", strict=True)

    @model_validator(mode="after")
    def _only_extensions(self) -> _Strict:
        unknown = [key for key in self.model_extra or {} if not key.startswith("x-")]
        if unknown:
            known = [f.alias or name for name, f in type(self).model_fields.items()]
            # One line per key (validate_model splits them into problems), each with its own suggestion.
            raise ValueError("\n".join(f"{key!r} is not a compose key here{did_you_mean(key, known)}"
                                        for key in unknown))
        return self


def did_you_mean(word: str, choices: list[str]) -> str:
    """ (did you mean 'command'?) for a misspelt key, or nothing when no choice is close."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Port(_Strict):
    name: str | None = Field(default=None, max_length=253)
    mode: Literal["ingress", "host"] = "ingress"
    host_ip: str | None = Field(default=None, max_length=64)
    target: int = Field(ge=1, le=65535)
    published: str | None = Field(default=None, pattern=r"^[0-9]{1,5}(-[0-9]{1,5})?$")
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    app_protocol: str | None = Field(default=None, max_length=64)


class _Bind(_Strict):
    propagation: str | None = None
    create_host_path: bool | None = None
    selinux: Literal["z", "Z"] | None = None
    recursive: str | None = None


class _VolumeOptions(_Strict):
    labels: dict[str, str] | None = None
    nocopy: bool | None = None
    subpath: str | None = Field(default=None, max_length=4096)


class _Tmpfs(_Strict):
    size: int | str | None = None
    mode: int | str | None = None


class _ImageOptions(_Strict):
    subpath: str | None = Field(default=None, max_length=4096)


class Volume(_Strict):
    type: Literal["bind", "volume", "tmpfs", "npipe", "cluster", "image"]
    source: str | None = Field(default=None, max_length=4096)
    target: str = Field(min_length=1, max_length=4096)
    read_only: bool | None = None
    consistency: str | None = None
    bind: _Bind | None = None
    volume: _VolumeOptions | None = None
    tmpfs: _Tmpfs | None = None
    image: _ImageOptions | None = None

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path in the container")
        return value


class Dependency(_Strict):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = "service_started"
    required: bool = True
    restart: bool | None = None


class FileRef(_Strict):
    source: str = Field(pattern=_RESOURCE_NAME)
    target: str | None = Field(default=None, max_length=4096)
    uid: str | None = Field(default=None, max_length=32)
    gid: str | None = Field(default=None, max_length=32)
    mode: str | int | None = None


class Healthcheck(_Strict):
    test: list[str] | None = None
    interval: str | None = None
    timeout: str | None = None
    retries: int | None = Field(default=None, ge=0, le=100_000)
    start_period: str | None = None
    start_interval: str | None = None
    disable: bool | None = None


class ServiceNetwork(_Strict):
    aliases: list[str] | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: list[str] | None = None
    mac_address: str | None = None
    driver_opts: dict[str, Any] | None = None
    priority: int | None = None
    gw_priority: int | None = None
    interface_name: str | None = None


class Resources(_Strict):
    cpus: float | int | str | None = None
    memory: str | int | None = None
    pids: int | None = None
    devices: list[dict[str, Any]] | None = None
    generic_resources: list[dict[str, Any]] | None = None


class _ResourceSet(_Strict):
    limits: Resources | None = None
    reservations: Resources | None = None


class Deploy(_Strict):
    mode: str | None = None
    replicas: int | None = Field(default=None, ge=0, le=10_000)
    labels: dict[str, str] | None = None
    resources: _ResourceSet | None = None
    restart_policy: dict[str, Any] | None = None
    update_config: dict[str, Any] | None = None
    rollback_config: dict[str, Any] | None = None
    placement: dict[str, Any] | None = None
    endpoint_mode: str | None = None


_FREE = Any  # keys the translator does not read structurally: bounded by size and depth only

Command = list[str] | None


class Service(_Strict):
    # What the translator reads: typed.
    image: str | None = Field(default=None, min_length=1, max_length=1024)
    build: dict[str, Any] | None = None
    command: Command = None
    entrypoint: Command = None
    environment: dict[str, str | None] | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    ports: list[Port] | None = Field(default=None, max_length=1000)
    expose: list[str] | None = None
    volumes: list[Volume] | None = Field(default=None, max_length=500)
    tmpfs: list[str] | None = None
    depends_on: dict[str, Dependency] | None = None
    secrets: list[FileRef] | None = None
    configs: list[FileRef] | None = None
    networks: dict[str, ServiceNetwork | None] | None = None
    network_mode: str | None = None
    healthcheck: Healthcheck | None = None
    deploy: Deploy | None = None
    user: str | None = Field(default=None, max_length=64)
    working_dir: str | None = Field(default=None, max_length=4096)
    privileged: bool | None = None
    read_only: bool | None = None
    init: bool | None = None
    tty: bool | None = None
    stdin_open: bool | None = None
    cap_add: list[str] | None = None
    cap_drop: list[str] | None = None
    security_opt: list[str] | None = None
    profiles: list[str] | None = None
    restart: str | None = None
    stop_grace_period: str | None = None
    stop_signal: str | None = None
    shm_size: str | int | None = None
    mem_limit: str | int | None = None
    sysctls: dict[str, str] | None = None
    extra_hosts: list[str] | None = None
    hostname: str | None = Field(default=None, max_length=253)
    container_name: str | None = Field(default=None, max_length=253)
    scale: int | None = Field(default=None, ge=0, le=10_000)
    domainname: str | None = Field(default=None, max_length=253)
    platform: str | None = Field(default=None, max_length=64)
    pull_policy: str | None = Field(default=None, pattern=r"^(always|never|missing|if_not_present|build|daily|weekly|refresh|every_[0-9smhdw]+)$")
    runtime: str | None = Field(default=None, max_length=64)
    ipc: str | None = Field(default=None, max_length=256)
    pid: str | None = Field(default=None, max_length=256)
    uts: str | None = Field(default=None, max_length=256)
    cgroup_parent: str | None = Field(default=None, max_length=4096)
    mac_address: str | None = Field(default=None, max_length=64)
    userns_mode: str | None = Field(default=None, max_length=256)
    isolation: str | None = Field(default=None, max_length=64)
    # The rest of the specification: known keys, values passed on for the translator to refuse or map.
    attach: _FREE = None
    blkio_config: _FREE = None
    cgroup: _FREE = None
    cpu_count: _FREE = None
    cpu_percent: _FREE = None
    cpu_period: _FREE = None
    cpu_quota: _FREE = None
    cpu_rt_period: _FREE = None
    cpu_rt_runtime: _FREE = None
    cpu_shares: _FREE = None
    cpus: _FREE = None
    cpuset: _FREE = None
    credential_spec: _FREE = None
    develop: _FREE = None
    device_cgroup_rules: _FREE = None
    devices: _FREE = None
    dns: _FREE = None
    dns_opt: _FREE = None
    dns_search: _FREE = None
    external_links: _FREE = None
    gpus: _FREE = None
    group_add: _FREE = None
    label_file: _FREE = None
    links: _FREE = None
    logging: _FREE = None
    mem_reservation: _FREE = None
    mem_swappiness: _FREE = None
    memswap_limit: _FREE = None
    models: _FREE = None
    oom_kill_disable: _FREE = None
    oom_score_adj: _FREE = None
    pids_limit: _FREE = None
    post_start: _FREE = None
    pre_stop: _FREE = None
    provider: _FREE = None
    pull_refresh_after: _FREE = None
    storage_opt: _FREE = None
    ulimits: _FREE = None
    use_api_socket: _FREE = None
    volumes_from: _FREE = None

    @model_validator(mode="after")
    def _runs_something(self) -> Service:
        if self.image is None and self.build is None:
            raise ValueError("has neither `image` nor `build`")
        return self


class _TopLevel(_Strict):
    name: str | None = Field(default=None, max_length=253)
    external: bool | None = None
    driver: str | None = None
    driver_opts: dict[str, Any] | None = None
    labels: dict[str, str] | list[str] | None = None


class Network(_TopLevel):
    ipam: dict[str, Any] | None = None
    attachable: bool | None = None
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    internal: bool | None = None


class NamedVolume(_TopLevel):
    pass


class FileSource(_Strict):
    name: str | None = Field(default=None, max_length=253)
    external: bool | None = None
    file: str | None = Field(default=None, max_length=4096)
    environment: str | None = None
    content: str | None = Field(default=None, max_length=1 << 20)
    labels: dict[str, str] | list[str] | None = None
    driver: str | None = None
    driver_opts: dict[str, Any] | None = None
    template_driver: str | None = None


class ComposeModel(_Strict):
    name: str = Field(pattern=PROJECT_NAME_PATTERN)
    services: dict[str, Service]
    networks: dict[str, Network | None] | None = None
    volumes: dict[str, NamedVolume | None] | None = None
    secrets: dict[str, FileSource] | None = None
    configs: dict[str, FileSource] | None = None
    models: dict[str, Any] | None = None


def _where(model: Any, loc: tuple[Any, ...]) -> str:
    """The error's place in the model, as services.web.ports[0].target.

    pydantic puts names of union branches and validators into `loc`; only the parts that really are
    keys or indexes of the model (walked alongside) make the path, so a user key is never mistaken for one.
    """
    out, node = "", model
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out += f"[{part}]"
            node = node[part]
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
    return out


def _bounded(model: Any) -> None:
    """Depth and key sanity, iteratively: a hostile body must not make the check itself recurse or loop."""
    stack: list[tuple[Any, int, str]] = [(model, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise ComposeError(f"{where or 'the model'}: nested deeper than {MAX_DEPTH} levels", hint=_HINT)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ComposeError(f"{where}: a key that is not a string", hint=_HINT)
                stack.append((item, depth + 1, f"{where}.{key}" if where else key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))
        elif not (value is None or isinstance(value, (str, int, float, bool))):
            raise ComposeError(f"{where}: a {type(value).__name__} is not a JSON value", hint=_HINT)


def validate_model(model: Any) -> dict[str, Any]:
    """The model, checked; ComposeError naming the service and field otherwise."""
    if not isinstance(model, dict):
        raise ComposeError("the compose model must be a JSON object", hint=_HINT)
    _bounded(model)
    size = len(json.dumps(model))
    if size > MAX_MODEL_BYTES:
        raise ComposeError(f"the compose model is {size} bytes, more than {MAX_MODEL_BYTES}",
                           hint="Split the project; a compose model is a few kilobytes.")
    services = model.get("services")
    if not isinstance(services, dict) or not services:
        raise ComposeError("the compose model has no services", hint="Define at least one service.")
    if len(services) > MAX_SERVICES:
        raise ComposeError(f"{len(services)} services, more than {MAX_SERVICES} in one project",
                           hint="Split the project into several.")
    for name in services:
        if not re.match(_NAME, name):
            raise ComposeError(f"services: the service name {name!r} is not valid",
                               hint="Use letters, digits, '_', '-' and '.', starting with a letter or digit, at most 63.")
    try:
        ComposeModel.model_validate(model)
    except ValidationError as exc:
        raise _problems(model, exc) from None
    return model


#: At most this many problems are named, one line each; a count says how many more there are.
MAX_PROBLEMS = 20


def _problems(model: dict[str, Any], exc: ValidationError) -> ComposeError:
    """Every problem pydantic found, each on its own line with its own hint (a misspelt key's is its suggestion)."""
    problems: list[dict[str, str]] = []
    seen = set()
    for error in exc.errors():
        where = _where(model, error["loc"]) or "top level"
        for text in error["msg"].removeprefix("Value error, ").splitlines():
            line = f"{where}: {text}"
            if line in seen:  # a union's branches repeat the same complaint
                continue
            seen.add(line)
            hint = "Correct the key's spelling." if "(did you mean" in text else (
                "Remove the key, or see docs/compose-keys.md for the keys spin reads." if "not a compose key" in text
                else "")
            problems.append({"message": line, "hint": hint})
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    if len(shown) == 1:
        message = shown[0]["message"]
        hint = shown[0]["hint"] or _HINT
        return ComposeError(message, hint=hint)
    message = f"{len(problems)} problems in the compose model:" + "".join(f"\n{p['message']}" for p in shown) + (
        f"\n(and {more} more)" if more else "")
    return ComposeError(message, problems=shown)
