"""Short syntax to long syntax, as `docker compose config` prints it.

Every function takes one service's raw (interpolated) value and returns its
canonical form, or raises ComposeError naming the service and field.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spin_gateway.compose_loader.scalars import as_text
from spin_gateway.vocabulary.errors import ComposeError
from spin_gateway.vocabulary.units import byte_count, go_duration, parse_duration

MAX_PORT_RANGE = 1000  # a range expands to one entry per port: bounded so "1-65535" cannot flood the model
MAX_PORTS = 1000  # entries of one service's ports after ranges expand: many small ranges must not flood it either


def _err(where: str, message: str, hint: str = "") -> ComposeError:
    return ComposeError(f"{where}: {message}", hint or None)


def _range(text: str, where: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-", 1))
        if hi < lo:
            raise _err(where, f"invalid port range {text!r}", "Write the lower port first, e.g. 8000-8010.")
        if hi - lo >= MAX_PORT_RANGE:
            raise _err(where, f"the port range {text!r} spans more than {MAX_PORT_RANGE} ports",
                       "Publish fewer ports; each port of a range becomes its own entry.")
        return list(range(lo, hi + 1))
    return [int(text)]


_PORT_HINT = "Use [HOST_IP:][HOST:]CONTAINER[/PROTOCOL], e.g. \"8080:80\" or \"127.0.0.1:8080:80/udp\"."


def _quoted(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def ports(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _err(where, "must be a list", "Write ports as a list, e.g. [\"8080:80\"].")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if isinstance(item, int):
            item = str(item)
        if isinstance(item, str):
            text = item.strip()
            ip = ""
            if text.startswith("["):  # [::1]:8080:80
                close = text.find("]")
                ip, text = text[1:close], text[close + 2:]
            parts = text.split(":")
            if len(parts) > 3:
                raise _err(here, f"{_quoted(item)} is not a valid port", _PORT_HINT)
            if len(parts) == 3:
                ip, published, target = parts
            elif len(parts) == 2:
                published, target = parts
            else:
                published, target = "", parts[0]
            proto = "tcp"
            if "/" in target:
                target, proto = target.split("/", 1)
            if proto not in ("tcp", "udp", "sctp") or not re.fullmatch(r"[0-9]+(-[0-9]+)?", target) or (
                    published and not re.fullmatch(r"[0-9]+(-[0-9]+)?", published)):
                raise _err(here, f"{_quoted(item)} is not a valid port", _PORT_HINT)
            targets = _range(target, here)
            publisheds = _range(published, here) if published else []
            if len(out) + len(targets) > MAX_PORTS:
                raise _err(here, f"the service publishes more than {MAX_PORTS} ports",
                           "Publish fewer ports: each port of a range becomes its own entry.")
            if publisheds and len(publisheds) != len(targets) and len(targets) != 1:
                raise _err(here, f"port ranges of {item!r} differ in length")
            for j, t in enumerate(targets):
                entry: dict[str, Any] = {"mode": "ingress"}
                if ip:
                    entry["host_ip"] = ip
                entry["target"] = t
                if publisheds:
                    # equal ranges pair up; one container port may take a host range ("8000-8010:80")
                    entry["published"] = str(publisheds[j]) if len(publisheds) == len(targets) else published
                entry["protocol"] = proto
                out.append(entry)
        elif isinstance(item, dict):
            entry = dict(item)
            if "target" not in entry:
                raise _err(here, "a long-syntax port needs `target`")
            try:
                entry["target"] = int(entry["target"])
            except (TypeError, ValueError):
                raise _err(here, f"target {entry['target']!r} is not a port number") from None
            entry.setdefault("mode", "ingress")
            entry.setdefault("protocol", "tcp")
            if "published" in entry and entry["published"] is not None:
                entry["published"] = str(entry["published"])
            out.append(entry)
        else:
            raise _err(here, f"{item!r} is not a valid port")
    return out


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or (len(source) > 1 and source[1] == ":")


def _expand_home(source: str, home: str | None) -> str:
    """`~` is the HOME of the environment the project is read with (not of the process reading it)."""
    if home and (source == "~" or source.startswith("~/")):
        return home + source[1:]
    return source


def _absolutise(path: str, base: Path, home: str | None = None) -> str:
    """Like filepath.Abs: join and clean `.` and `..` lexically (no symlinks followed)."""
    expanded = Path(_expand_home(path, home))
    return os.path.normpath(str(expanded if expanded.is_absolute() else base / expanded))


def _clean_target(target: str) -> str:
    return os.path.normpath(target) if target != "/" else target


def _bind_source(source: str, base: Path, home: str | None) -> str:
    """An absolute source is kept as written (as Docker Compose does); a relative one is made absolute."""
    expanded = _expand_home(source, home)
    return expanded if expanded.startswith("/") else _absolutise(expanded, base)


def volumes(value: Any, where: str, base: Path, home: str | None = None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _err(where, "must be a list")
    out = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            if re.match(r"^[A-Za-z]:[\\/]", item):
                # Docker Compose reads "v:/data" as the Windows drive path v:/data, not volume v: say so
                raise _err(here, f"{_quoted(item)} reads as a Windows drive path ({item[:2]}...)",
                           "Give the volume a name of two or more characters, or write a folder as ./path.")
            parts = item.split(":")
            if len(parts) == 1:
                out.append({"type": "volume", "target": parts[0], "volume": {}})
                continue
            if len(parts) > 3:
                raise _err(here, f"{item!r} is not a valid volume", "Use SOURCE:TARGET[:MODE].")
            source, target = parts[0], parts[1]
            mode = parts[2] if len(parts) == 3 else ""
            if not source:
                raise _err(here, f"invalid spec: {item}: empty section between colons",
                           "A variable in the volume is probably unset.")
            if not target.startswith("/"):
                raise _err(here, f"the target {target!r} must be an absolute path in the container")
            target = _clean_target(target)
            options = [m for m in mode.split(",") if m]
            entry: dict[str, Any]
            if _is_path(source):
                entry = {"type": "bind", "source": _bind_source(source, base, home), "target": target}
                if "ro" in options:
                    entry["read_only"] = True
                bind: dict[str, Any] = {"create_host_path": True}
                for opt in options:
                    if opt in ("z", "Z"):
                        bind["selinux"] = opt
                    elif opt in ("shared", "rshared", "slave", "rslave", "private", "rprivate"):
                        bind["propagation"] = opt
                entry["bind"] = bind
            else:
                entry = {"type": "volume", "source": source, "target": target}
                if "ro" in options:
                    entry["read_only"] = True
                entry["volume"] = {"nocopy": True} if "nocopy" in options else {}
            bad = [o for o in options if o not in ("ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave",
                                                     "rslave", "private", "rprivate", "cached", "delegated", "consistent")]
            if bad:
                raise _err(here, f"unknown volume mode {bad[0]!r} in {item!r}")
            out.append(entry)
        elif isinstance(item, dict):
            entry = dict(item)
            kind = entry.get("type")
            if kind not in ("bind", "volume", "tmpfs", "npipe", "cluster", "image"):
                raise _err(here, f"volume type {kind!r} is not one of bind, volume, tmpfs")
            if "target" not in entry:
                raise _err(here, "a long-syntax volume needs `target`")
            entry["target"] = _clean_target(str(entry["target"]))
            if kind == "bind":
                if not entry.get("source"):
                    raise _err(here, "a bind volume needs `source`")
                entry["source"] = _bind_source(str(entry["source"]), base, home)
            if isinstance(entry.get("tmpfs"), dict) and entry["tmpfs"].get("size") is not None:
                entry["tmpfs"] = {**entry["tmpfs"], "size": byte_size(entry["tmpfs"]["size"], f"{here}.tmpfs.size")}
            out.append(entry)
        else:
            raise _err(here, f"{item!r} is not a valid volume")
    return out


def key_values(value: Any, where: str, environ: Mapping[str, str] | None = None,
               null: str | None = None) -> dict[str, Any]:
    """environment / labels / annotations / args: list or mapping -> mapping of strings.

    A key without a value stays null (environment), or becomes `null` (labels: ""). With `environ`
    (environment), a key without a value takes the shell's or .env's value in either form, as in
    Docker Compose: `- KEY` and `KEY:` are the same thing written two ways.
    """
    if value is None:
        return {}
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                raise _err(f"{where}.{k}", "must be a string, number or boolean")
            if v is None and environ is not None and str(k) in environ:
                out[str(k)] = environ[str(k)].replace("$", "$$")  # the value as the model writes it: $$ for a dollar
            else:
                out[str(k)] = null if v is None else _scalar(v)
        return out
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _err(f"{where}[{i}]", "must be a string KEY=VALUE")
            key, sep, val = item.partition("=")
            if sep:
                out[key] = val
            elif environ is not None and key in environ:
                out[key] = environ[key].replace("$", "$$")  # the value as the model writes it: $$ for a dollar
            else:
                out[key] = None
        return out
    raise _err(where, "must be a mapping or a list of KEY=VALUE")


def _scalar(v: Any) -> str:
    return as_text(v)


def command(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise _err(where, f"cannot split {value!r} as a shell command: {exc}") from None
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _err(f"{where}[{i}]", f"{item!r} must be a string", f"Quote it: \"{as_text(item)}\".")
        return list(value)
    raise _err(where, "must be a string or a list of strings")


def depends_on(value: Any, where: str) -> dict[str, dict[str, Any]]:
    """The list form is spelled out now; the mapping form gets its defaults only after files are merged,
    so an override that names a dependency again does not reset the earlier file's condition."""
    if isinstance(value, list):
        return {str(name): {"condition": "service_started", "required": True} for name in value}
    if isinstance(value, dict):
        out = {}
        for name, spec in value.items():
            if spec is not None and not isinstance(spec, dict):
                raise _err(f"{where}.{name}", "must be a mapping", "Write e.g. `db: {condition: service_healthy}`.")
            spec = dict(spec or {})
            if "condition" in spec and spec["condition"] not in _CONDITIONS:
                raise _err(f"{where}.{name}.condition", f"unknown condition {spec['condition']!r}",
                           f"Use one of {', '.join(_CONDITIONS)}.")
            out[str(name)] = spec
        return out
    raise _err(where, "must be a list of services or a mapping")


_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


def file_refs(value: Any, where: str) -> list[dict[str, Any]]:
    """secrets / configs of a service: short names or long syntax."""
    if not isinstance(value, list):
        raise _err(where, "must be a list")
    out = []
    for i, item in enumerate(value):
        secret = where.endswith("secrets")
        if isinstance(item, str):
            # secrets default to /run/secrets/<name>; a config's default target is left to the runtime
            out.append({"source": item, "target": f"/run/secrets/{item}"} if secret else {"source": item})
        elif isinstance(item, dict) and item.get("source"):
            entry = dict(item)
            if isinstance(entry.get("mode"), int):
                entry["mode"] = f"0{entry['mode']:o}"  # YAML read 0400 as a number; compose prints the octal text
            if secret:
                entry.setdefault("target", f"/run/secrets/{entry['source']}")
            out.append(entry)
        else:
            raise _err(f"{where}[{i}]", "must be a name or a mapping with `source`")
    return out


def env_files(value: Any, where: str, base: Path) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append({"path": _absolutise(item, base), "required": True})
        elif isinstance(item, dict) and item.get("path"):
            out.append({"path": _absolutise(str(item["path"]), base), "required": bool(item.get("required", True)),
                        **({"format": item["format"]} if "format" in item else {})})
        else:
            raise _err(f"{where}[{i}]", "must be a path or a mapping with `path`")
    return out


_REMOTE_CONTEXT = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/)")


def _resolved_args(value: Any, where: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Build args: an arg without a value takes the environment's, or is dropped when the environment has none."""
    out = {}
    for key, val in key_values(value, where).items():
        if val is None:
            if key in environ:
                out[key] = environ[key].replace("$", "$$")
            continue
        out[key] = val
    return out


def build(value: Any, where: str, base: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"context": value}
    if not isinstance(value, dict):
        raise _err(where, "must be a path or a mapping", "Write `build: ./dir` or `build: {context: ./dir}`.")
    entry = dict(value)
    if "args" in entry:
        entry["args"] = _resolved_args(entry["args"], f"{where}.args", environ or {})
    for key in ("labels", "extra_hosts"):
        if key in entry:
            entry[key] = key_values(entry[key], f"{where}.{key}") if key == "labels" else extra_hosts(entry[key], f"{where}.{key}")
    context = str(entry.get("context", "."))
    entry["context"] = context if _REMOTE_CONTEXT.match(context) else _absolutise(context, base)
    return entry  # the default dockerfile is set after files are merged, so an override keeps a custom one


def networks(value: Any, where: str) -> dict[str, Any]:
    """A list of names, or a mapping of name to options (`{}` is kept as written, as Docker Compose does)."""
    if isinstance(value, list):
        return {str(n): None for n in value}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is not None and not isinstance(v, dict):
                raise _err(f"{where}.{k}", "must be a mapping of options, or empty", "Write e.g. `front: {aliases: [web]}`.")
            out[str(k)] = dict(v) if v is not None else None
        return out
    raise _err(where, "must be a list or a mapping")


def devices(value: Any, where: str) -> list[Any]:
    """"/dev/x[:/dev/y[:rwm]]" -> {source, target, permissions}, as Docker Compose prints devices."""
    if not isinstance(value, list):
        raise _err(where, "must be a list", "Write e.g. [\"/dev/ttyUSB0:/dev/ttyUSB0\"].")
    out: list[Any] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            parts = item.split(":")
            if len(parts) > 3 or not parts[0]:
                raise _err(f"{where}[{i}]", f"{_quoted(item)} is not a device", "Use HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]].")
            source = parts[0]
            target = parts[1] if len(parts) > 1 and parts[1] else source
            permissions = parts[2] if len(parts) > 2 else "rwm"
            out.append({"source": source, "target": target, "permissions": permissions})
        elif isinstance(item, dict):
            out.append(dict(item))
        else:
            raise _err(f"{where}[{i}]", f"{item!r} is not a device")
    return out


def string_list(value: Any, where: str, *, single: bool = False, numbers: bool = False) -> list[str]:
    """A list of strings; `single`: one string alone is allowed too (dns, tmpfs); `numbers`: items may be
    whole numbers, written as text (expose, group_add). As Docker Compose's schema has it."""
    if single and isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _err(where, "must be a list", "Write it as a list, e.g. [item].")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str) or (numbers and isinstance(item, int) and not isinstance(item, bool)):
            out.append(str(item))
        else:
            raise _err(f"{where}[{i}]", f"{item!r} must be a string", f"Quote it: \"{as_text(item)}\".")
    return out


def byte_size(value: Any, where: str) -> str:
    """`1.5G` -> "1610612736", as Docker Compose prints sizes."""
    try:
        return str(byte_count(value))
    except ValueError:
        raise _err(where, f"{value!r} is not a size", "Use a number with a unit, e.g. 512m or 1.5g.") from None


def duration(value: Any, where: str) -> str:
    """A compose duration ("90s", "1m30s") as Docker Compose prints it (Go's form: "1m30s", "1h0m0s")."""
    ns = parse_duration(value) if isinstance(value, str) else None
    if ns is None:
        raise _err(where, f"{value!r} is not a duration", "Write a number with a unit, e.g. 30s, 1m30s or 500ms.")
    return go_duration(ns)


def healthcheck(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(where, "must be a mapping", "Write `healthcheck: {test: [CMD, ...], interval: 30s}`.")
    out = dict(value)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]  # even "NONE": Docker Compose prints ["CMD-SHELL", "NONE"]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if out.get(key) is not None:
            out[key] = duration(out[key], f"{where}.{key}")
    return out


def extra_hosts(value: Any, where: str) -> list[str]:
    """Host-to-IP entries as Docker Compose prints them: sorted "host=ip", brackets off IPv6 addresses."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for host, ips in value.items():
            for ip in ips if isinstance(ips, list) else [ips]:
                if not isinstance(ip, str):
                    raise _err(f"{where}.{host}", f"{ip!r} must be an IP address as a string")
                pairs.append((str(host), ip))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _err(f"{where}[{i}]", "must be a string HOST=IP")
            sep = "=" if "=" in item else ":"
            host, found, ip = item.partition(sep)
            if not found or not host:
                raise _err(f"{where}[{i}]", f"{item!r} is not HOST=IP", "Write e.g. \"somehost=162.242.195.82\".")
            if (host, ip) in pairs:
                raise _err(f"{where}[{i}]", f"{item!r} is listed twice", "Remove the repeated entry.")
            pairs.append((host, ip))
    else:
        raise _err(where, "must be a list or a mapping")
    return sorted(f"{host}={ip[1:-1] if ip.startswith('[') and ip.endswith(']') else ip}" for host, ip in pairs)


def _devices(devices: Any, where: str) -> Any:
    if not isinstance(devices, list):
        return devices
    out = []
    for device in devices:
        if isinstance(device, dict):
            device = dict(device)
            if device.get("count") == "all" or ("count" not in device and "device_ids" not in device):
                device["count"] = -1  # "all", as Docker Compose writes it
        out.append(device)
    return out


def deploy(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(where, "must be a mapping")
    out = dict(value)
    if "labels" in out:
        out["labels"] = key_values(out["labels"], f"{where}.labels")
    resources = out.setdefault("resources", {})
    if isinstance(resources, dict):
        for part in ("limits", "reservations"):
            spec = resources.get(part)
            if not isinstance(spec, dict):
                continue
            spec = resources[part] = dict(spec)
            if spec.get("memory") is not None:
                spec["memory"] = byte_size(spec["memory"], f"{where}.resources.{part}.memory")
            if spec.get("cpus") is not None:
                try:
                    spec["cpus"] = float(spec["cpus"])
                except (TypeError, ValueError):
                    raise _err(f"{where}.resources.{part}.cpus", f"{spec['cpus']!r} is not a number") from None
            if "devices" in spec:
                spec["devices"] = _devices(spec["devices"], f"{where}.resources.{part}.devices")
    for section, keys in (("restart_policy", ("delay", "window")), ("update_config", ("delay", "monitor")),
                          ("rollback_config", ("delay", "monitor"))):
        spec = out.get(section)
        if isinstance(spec, dict):
            out[section] = {k: duration(v, f"{where}.{section}.{k}") if k in keys and v is not None else v
                            for k, v in spec.items()}
    out.setdefault("placement", {})
    return out


def integer(value: Any, where: str) -> int:
    """A count written as a number or a string ("512"): Docker Compose prints the number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    raise _err(where, f"{value!r} is not a whole number")


def gpus(value: Any, where: str) -> list[Any]:
    """`gpus: all` is a request for every GPU, printed as [{count: -1}]."""
    if value == "all":
        return [{"count": -1}]
    if isinstance(value, list):
        return _devices(value, where)
    raise _err(where, f"{value!r} is not `all` or a list of GPU requests")


def hooks(value: Any, where: str) -> list[dict[str, Any]]:
    """post_start / pre_stop: each hook's command as a list, its environment as a mapping."""
    if not isinstance(value, list):
        raise _err(where, "must be a list of hooks", "Write e.g. `post_start: [{command: ./init.sh}]`.")
    out = []
    for i, hook in enumerate(value):
        if not isinstance(hook, dict):
            raise _err(f"{where}[{i}]", "must be a mapping with `command`")
        hook = dict(hook)
        if "command" in hook:
            hook["command"] = command(hook["command"], f"{where}[{i}].command")
        if "environment" in hook:
            hook["environment"] = key_values(hook["environment"], f"{where}[{i}].environment")
        out.append(hook)
    return out


def logging(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(where, "must be a mapping", "Write e.g. `logging: {driver: json-file, options: {max-size: 10m}}`.")
    out = dict(value)
    if "options" in out and out["options"] is not None:
        out["options"] = key_values(out["options"], f"{where}.options")
    return out


def number(value: Any, where: str) -> float | int:
    """A number written as text ("1.5") or a number: Docker Compose prints the number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _err(where, f"{value!r} is not a number", "Write e.g. 0.5 or 2.") from None


# Fields Docker Compose casts after interpolation, so `privileged: ${PRIV:-false}` or `replicas: "${N:-2}"` work.
_BOOLEANS = [("privileged",), ("read_only",), ("init",), ("tty",), ("stdin_open",), ("oom_kill_disable",), ("attach",),
             ("volumes", "*", "read_only"), ("volumes", "*", "bind", "create_host_path"),
             ("volumes", "*", "volume", "nocopy"), ("healthcheck", "disable")]
_INTEGERS = [("scale",), ("cpu_count",), ("cpu_percent",), ("cpu_period",), ("cpu_quota",), ("pids_limit",),
             ("oom_score_adj",), ("deploy", "replicas"), ("deploy", "resources", "limits", "pids"),
             ("deploy", "resources", "reservations", "pids"), ("deploy", "restart_policy", "max_attempts"),
             ("healthcheck", "retries"), ("ports", "*", "target"), ("ulimits", "*"), ("ulimits", "*", "soft"),
             ("ulimits", "*", "hard")]
_TRUE, _FALSE = ("true", "yes", "on", "y"), ("false", "no", "off", "n")


def _to_bool(value: Any, where: str) -> Any:
    if value is None:
        raise _err(where, "must be true or false", "Write true or false, or leave the key out.")
    if not isinstance(value, str):
        return value
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _err(where, f"{_quoted(value)} is not a boolean", "Write true or false.")


def _to_int(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    if re.fullmatch(r"\s*[-+]?[0-9]+\s*", value):
        return int(value)
    raise _err(where, f"{_quoted(value)} is not a whole number")


def _cast_at(node: Any, path: tuple[str, ...], where: str, convert) -> Any:
    if not path:
        return convert(node, where)
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            return [_cast_at(v, rest, f"{where}[{i}]", convert) for i, v in enumerate(node)]
        if isinstance(node, dict):
            return {k: _cast_at(v, rest, f"{where}.{k}", convert) for k, v in node.items()}
        return node
    if isinstance(node, dict) and head in node and (node[head] is not None or not rest):
        return {**node, head: _cast_at(node[head], rest, f"{where}.{head}", convert)}
    return node


def cast_types(service: dict[str, Any], where: str) -> dict[str, Any]:
    """Booleans and whole numbers written as text (often by interpolation) become booleans and numbers."""
    for path in _BOOLEANS:
        service = _cast_at(service, path, where, _to_bool)
    for path in _INTEGERS:
        service = _cast_at(service, path, where, _to_int)
    return service
