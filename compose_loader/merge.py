"""Merging several compose files (-f a -f b) and `extends`, by the compose specification's merge rules.

Mappings merge key by key; some sequences merge by a key (ports by their
binding, volumes, secrets and configs by target), a later entry replacing an
earlier one with the same key whole; `command`,
`entrypoint` and `healthcheck.test` are replaced; other sequences are unions.
"""

from __future__ import annotations

import copy
from typing import Any

from spin_gateway.vocabulary.errors import ComposeError

_REPLACE = {"command", "entrypoint"}
_BY_KEY = {
    "ports": lambda p: (p.get("host_ip"), p.get("published"), p.get("target"), p.get("protocol")),
    "volumes": lambda v: v.get("target"),
    # by the path they land on, the runtime's default when none is given
    "secrets": lambda s: s.get("target") or f"/run/secrets/{s.get('source')}",
    "configs": lambda c: c.get("target") or f"/{c.get('source')}",
    "env_file": lambda e: e.get("path"),
}
_UNION = {"expose", "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "tmpfs", "profiles", "devices", "links",
          "extra_hosts"}
# appended as they are; a repeated item is then refused (Docker Compose's schema wants them unique)
APPENDED = ("security_opt", "group_add", "external_links", "volumes_from", "device_cgroup_rules")
_SORTED = {"extra_hosts"}  # printed sorted by Docker Compose, so sorted again after a union


def _merge_networks(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Per network: options merge, aliases are a union."""
    out = copy.deepcopy(base)
    for name, options in override.items():
        old = out.get(name)
        if isinstance(old, dict) and isinstance(options, dict):
            merged = _deep_merge(old, options)
            if isinstance(old.get("aliases"), list) and isinstance(options.get("aliases"), list):
                merged["aliases"] = old["aliases"] + [a for a in options["aliases"] if a not in old["aliases"]]
            out[name] = merged
        elif options is not None or name not in out:
            out[name] = copy.deepcopy(options)
    return out


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(override)


def _merge_by_key(base: list, override: list, key) -> list:
    index = {key(item): i for i, item in enumerate(base)}
    out = [copy.deepcopy(x) for x in base]
    for item in override:
        k = key(item)
        if k in index:
            out[index[k]] = copy.deepcopy(item)  # the later entry replaces the earlier one whole, as in docker compose
        else:
            index[k] = len(out)
            out.append(copy.deepcopy(item))
    return out


def unique_entries(key: str, items: list[Any]) -> list[Any]:
    """A field's repeated entries within one service collapse, as Docker Compose collapses them.

    Entries with a merge key (volumes, secrets and configs by target): the later wins, in the earlier's place.
    Others (ports, cap_add, dns, ...): the first of equal entries stays.
    """
    if key in _BY_KEY and key != "ports":
        return _merge_by_key([], items, _BY_KEY[key])
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in out or value is None or key in _REPLACE:
            out[key] = copy.deepcopy(value)
        elif key in _BY_KEY and isinstance(value, list) and isinstance(out[key], list):
            out[key] = _merge_by_key(out[key], value, _BY_KEY[key])
        elif key in APPENDED and isinstance(value, list) and isinstance(out[key], list):
            out[key] = out[key] + copy.deepcopy(value)
        elif key in _UNION and isinstance(value, list) and isinstance(out[key], list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
            if key in _SORTED:
                out[key] = sorted(out[key])
        elif key == "networks" and isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _merge_networks(out[key], value)
        elif key == "healthcheck" and isinstance(value, dict) and isinstance(out[key], dict):
            merged = _deep_merge(out[key], value)
            if "test" in value:
                merged["test"] = copy.deepcopy(value["test"])
            out[key] = merged
        else:
            out[key] = _deep_merge(out[key], value)
    return out


def merge_models(base: dict[str, Any], override: dict[str, Any], *, allow_override: bool = True,
                 where: str = "") -> dict[str, Any]:
    """`override` over `base`; with allow_override=False (an include under the including file) a name both
    define is refused unless both define it the same way, as Docker Compose refuses it."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key in ("services", "networks", "volumes", "secrets", "configs") and isinstance(value, dict):
            section = out.setdefault(key, {})
            if not isinstance(section, dict):
                section = out[key] = {}
            for name, spec in value.items():
                if name in section and not allow_override:
                    if section[name] != spec:
                        raise ComposeError(f"{where}: {key}.{name} conflicts with imported resource",
                                           hint=f"An included file defines {key}.{name} differently: rename one, "
                                                "or drop the copy in the including file.")
                    continue
                if name in section and key == "services":
                    section[name] = merge_service(section[name], spec)
                elif name in section and isinstance(section[name], dict) and isinstance(spec, dict):
                    section[name] = _deep_merge(section[name], spec)
                else:
                    section[name] = copy.deepcopy(spec)
        elif key in out and isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
