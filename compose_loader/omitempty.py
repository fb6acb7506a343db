"""Zero values left out, as Docker Compose's Go structs print them (`omitempty`).

`privileged: false`, `restart: ""`, `cap_add: []` or `labels: {}` do not appear
in `docker compose config`; a few fields are pointers in compose-go and keep
their zero (`init: false`, `deploy.replicas: 0`, `healthcheck.retries: 0`,
`command: []`), and nested option blocks stay as `{}` (`bind: {}`, `limits: {}`).
User data (environment, labels, args, options, `x-` extensions) is never touched.
"""

from __future__ import annotations

from typing import Any

_POINTERS = {"command", "entrypoint", "init", "scale", "replicas", "retries", "required", "attach",
             "enable_ipv4", "enable_ipv6"}
_STRUCTS = {"placement", "resources", "limits", "reservations", "volume", "bind", "tmpfs", "image", "ipam",
            "healthcheck", "deploy", "build", "logging", "restart_policy", "update_config", "rollback_config",
            "develop", "blkio_config", "credential_spec"}
_USER_MAPS = {"environment", "labels", "annotations", "sysctls", "args", "driver_opts", "options", "storage_opt",
              "ulimits", "extra_hosts"}
_STRUCT_MAPS = {"depends_on", "networks"}  # name -> options block
_BYTE_SIZES = {"mem_limit", "mem_reservation", "memswap_limit", "shm_size", "memory", "size"}


def _zero(key: str, value: Any) -> bool:
    if value is False or value == "" or value == [] or value == {}:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return True
    return key in _BYTE_SIZES and value == "0"


def _struct(block: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in block.items():
        if key.startswith("x-"):
            out[key] = value
            continue
        if key in _STRUCTS and isinstance(value, dict):
            out[key] = _struct(value)
            continue
        if key in _POINTERS:
            out[key] = value
            continue
        if _zero(key, value):
            continue
        if key in _USER_MAPS:
            out[key] = value
        elif key in _STRUCT_MAPS and isinstance(value, dict):
            out[key] = {k: _struct(v) if isinstance(v, dict) else v for k, v in value.items()}
        elif isinstance(value, dict):
            out[key] = _struct(value)
        elif isinstance(value, list):
            out[key] = [_struct(v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def drop_empty(model: dict[str, Any]) -> dict[str, Any]:
    """The model with Go's omitempty applied to services and top-level resources."""
    out = dict(model)
    out["services"] = {name: _struct(svc) for name, svc in model.get("services", {}).items()}
    for section in ("networks", "volumes", "secrets", "configs"):
        if isinstance(model.get(section), dict):
            out[section] = {k: _struct(v) if isinstance(v, dict) else v for k, v in model[section].items()}
    return out
