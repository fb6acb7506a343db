"""Compose files -> the canonical model, in the shape `docker compose config --format json` prints.

Runs on the user's machine (the CLI): env files, includes, extends and relative
paths are resolved here, so the gateway never opens a path a request names.
Order of work, as Docker Compose: find files -> environment (.env) -> per file:
parse, interpolate, include, extends, normalise -> merge files in order ->
profiles -> project-level defaults (networks, volume and secret names) -> checks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spin_gateway.compose_loader import normalize as N
from spin_gateway.compose_loader.envfile import read_env_file
from spin_gateway.compose_loader.interpolation import interpolate
from spin_gateway.compose_loader.merge import APPENDED, merge_models, merge_service, unique_entries
from spin_gateway.compose_loader.model import validate_model
from spin_gateway.compose_loader.omitempty import drop_empty
from spin_gateway.compose_loader.yaml_safe import load_yaml_file
from spin_gateway.vocabulary.errors import ComposeError
from spin_gateway.vocabulary.naming import is_compose_project_name, normalise_project_name

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
MAX_INCLUDE_DEPTH = 8
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass
class ComposeProject:
    name: str
    model: dict[str, Any]
    files: list[str]
    working_dir: str
    warnings: list[str] = field(default_factory=list)


def find_default_file(start: Path) -> Path:
    folder = start.resolve()
    while True:
        for name in DEFAULT_FILES:
            if (folder / name).is_file():
                return folder / name
        if folder.parent == folder:
            break
        folder = folder.parent
    raise ComposeError(f"no compose file found in {start} or its parents (looked for {', '.join(DEFAULT_FILES)})",
                       hint="Pass one with -f, or run spin in the folder that has compose.yaml.")


def _home(environ: Mapping[str, str]) -> str:
    """What `~` means: the HOME of the environment the project is read with."""
    return environ.get("HOME") or str(Path.home())


def _service_fields(raw: dict[str, Any], where: str, base: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """Normalise one service's fields to the long syntax (no defaults that merging would override)."""
    # x- keys inside a service are for anchors only: docker compose config drops them
    svc = {k: v for k, v in raw.items() if not (isinstance(k, str) and k.startswith("x-"))}
    home = _home(environ)
    converters: dict[str, Callable[[Any], Any]] = {
        "ports": lambda v: N.ports(v, f"{where}.ports"),
        "volumes": lambda v: N.volumes(v, f"{where}.volumes", base, home),
        "environment": lambda v: N.key_values(v, f"{where}.environment", environ),
        "labels": lambda v: N.key_values(v, f"{where}.labels", null=""),
        "annotations": lambda v: N.key_values(v, f"{where}.annotations", null=""),
        "command": lambda v: N.command(v, f"{where}.command"),
        "entrypoint": lambda v: N.command(v, f"{where}.entrypoint"),
        "depends_on": lambda v: N.depends_on(v, f"{where}.depends_on"),
        "secrets": lambda v: N.file_refs(v, f"{where}.secrets"),
        "configs": lambda v: N.file_refs(v, f"{where}.configs"),
        "env_file": lambda v: N.env_files(v, f"{where}.env_file", base),
        "label_file": lambda v: [N.absolutise(str(f), base) for f in (v if isinstance(v, list) else [v])],
        "build": lambda v: N.build(v, f"{where}.build", base, environ),
        "networks": lambda v: N.networks(v, f"{where}.networks"),
        "expose": lambda v: N.string_list(v, f"{where}.expose", numbers=True),
        "dns": lambda v: N.string_list(v, f"{where}.dns", single=True),
        "dns_search": lambda v: N.string_list(v, f"{where}.dns_search", single=True),
        "dns_opt": lambda v: N.string_list(v, f"{where}.dns_opt"),
        "links": lambda v: N.string_list(v, f"{where}.links"),
        "external_links": lambda v: N.string_list(v, f"{where}.external_links"),
        "volumes_from": lambda v: N.string_list(v, f"{where}.volumes_from"),
        "device_cgroup_rules": lambda v: N.string_list(v, f"{where}.device_cgroup_rules"),
        "devices": lambda v: N.devices(v, f"{where}.devices"),
        "tmpfs": lambda v: N.string_list(v, f"{where}.tmpfs", single=True),
        "profiles": lambda v: N.string_list(v, f"{where}.profiles"),
        "sysctls": lambda v: N.key_values(v, f"{where}.sysctls"),
        "extra_hosts": lambda v: N.extra_hosts(v, f"{where}.extra_hosts"),
        "stop_grace_period": lambda v: N.duration(v, f"{where}.stop_grace_period"),
        "healthcheck": lambda v: N.healthcheck(v, f"{where}.healthcheck"),
        "deploy": lambda v: N.deploy(v, f"{where}.deploy"),
        "shm_size": lambda v: N.byte_size(v, f"{where}.shm_size"),
        "mem_limit": lambda v: N.byte_size(v, f"{where}.mem_limit"),
        "cpus": lambda v: N.number(v, f"{where}.cpus"),
        "mem_reservation": lambda v: N.byte_size(v, f"{where}.mem_reservation"),
        "memswap_limit": lambda v: N.byte_size(v, f"{where}.memswap_limit"),
        "mem_swappiness": lambda v: N.as_text(N.integer(v, f"{where}.mem_swappiness")),
        "cpu_shares": lambda v: N.integer(v, f"{where}.cpu_shares"),
        "group_add": lambda v: N.string_list(v, f"{where}.group_add", numbers=True),
        "gpus": lambda v: N.gpus(v, f"{where}.gpus"),
        "post_start": lambda v: N.hooks(v, f"{where}.post_start"),
        "pre_stop": lambda v: N.hooks(v, f"{where}.pre_stop"),
        "logging": lambda v: N.logging(v, f"{where}.logging"),
        "cap_add": lambda v: N.string_list(v, f"{where}.cap_add"),
        "cap_drop": lambda v: N.string_list(v, f"{where}.cap_drop"),
        "security_opt": lambda v: N.string_list(v, f"{where}.security_opt"),
    }
    for key, convert in converters.items():
        if key in svc and svc[key] is not None:
            svc[key] = convert(svc[key])
    return N.cast_types(svc, where)


_VARIABLE = re.compile(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _with_unset_variables(exc: ComposeError, raw_service: Any, name: str, environ: Mapping[str, str]) -> ComposeError:
    """A value that is wrong because a variable is unset says so: the variable is the thing to fix."""
    field = exc.message.partition(f"services.{name}.")[2]
    field = re.split(r"[.\[:]", field, maxsplit=1)[0]
    text = json.dumps(raw_service.get(field) if isinstance(raw_service, dict) and field else raw_service)
    unset = sorted({v for v in _VARIABLE.findall(text) if v not in environ})
    if not unset:
        return exc
    names = ", ".join(unset)
    return ComposeError(f"{exc.message} ({names} {'is' if len(unset) == 1 else 'are'} not set)",
                        hint=f"Set {names} in the environment or in .env, or give a default: ${{{unset[0]}:-value}}.")


class _Reader:
    def __init__(self, environ: Mapping[str, str], warnings: list[str]):
        self.environ = environ
        self.warnings = warnings
        self._seen_warnings: set[str] = set()

    def warn(self, message: str) -> None:
        if message not in self._seen_warnings:
            self._seen_warnings.add(message)
            self.warnings.append(message)

    def read(self, path: Path, depth: int = 0, base: Path | None = None) -> dict[str, Any]:
        """One file: parsed, interpolated, includes and extends resolved, services normalised.

        Relative paths resolve against `base`: the file's folder, or an include's project_directory.
        """
        if depth > MAX_INCLUDE_DEPTH:
            raise ComposeError(f"{path}: includes and extends nest deeper than {MAX_INCLUDE_DEPTH}",
                               hint="An include or extends probably points back at a file that includes it.")
        documents = [d for d in load_yaml_file(path) if d is not None]
        if not documents:
            raise ComposeError(f"{path}: the compose file is empty", hint="Define at least one service in it.")
        model: dict[str, Any] = {}
        for raw in documents:  # several `---` documents merge as several -f files do
            model = merge_models(model, self._document(raw, path, depth, base or path.parent), where=str(path))
        return model

    def _document(self, raw: Any, path: Path, depth: int, base: Path) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ComposeError(f"{path}: the top level must be a mapping, found {type(raw).__name__}",
                               hint="A compose file starts with keys such as `services:`.")
        for key in raw:
            if not isinstance(key, str):
                raise ComposeError(f"{path}: top-level key {key!r} is not a string", hint="Quote the key.")
        doc = interpolate(raw, self.environ, self.warn)
        if "version" in doc:
            self.warn(f"{path}: the attribute `version` is obsolete, it will be ignored, please remove it")
            doc.pop("version")
        unknown = [k for k in doc if k not in ("name", "services", "networks", "volumes", "secrets", "configs",
                                                "include", "models") and not k.startswith("x-")]
        if unknown:
            raise ComposeError(f"{path}: unknown top-level key {unknown[0]!r}",
                               hint="Top-level keys are services, networks, volumes, secrets, configs, include, name and x-*.")
        services = doc.get("services") or {}
        if not isinstance(services, dict):
            raise ComposeError(f"{path}: services must be a mapping of service names",
                               hint="Write `services:` then one indented `name:` per service.")
        out: dict[str, Any] = {k: v for k, v in doc.items() if k not in ("services", "include")}
        normalised = {}
        for name, svc in services.items():
            where = f"{path.name}: services.{name}"
            if not isinstance(name, str) or not _SERVICE_NAME.match(name):
                raise ComposeError(f"{path}: service name {name!r} is not valid",
                                   hint="Use letters, digits, '_', '-' and '.', starting with a letter or digit.")
            if svc is None:
                svc = {}
            if not isinstance(svc, dict):
                raise ComposeError(f"{where}: must be a mapping", hint="Indent the service's keys under its name.")
            try:
                normalised[name] = _service_fields(svc, where, base, self.environ)
            except ComposeError as exc:
                raise _with_unset_variables(exc, raw["services"][name], name, self.environ) from None
        # extends: the base service first, this file's fields over it
        for name in list(normalised):
            normalised[name] = self._extends(name, normalised, path, depth, set())
        out["services"] = normalised
        for section in ("secrets", "configs"):
            for spec in (out.get(section) or {}).values():
                if isinstance(spec, dict) and spec.get("file"):
                    spec["file"] = N.absolutise(str(spec["file"]), base, _home(self.environ))
        for include in doc.get("include") or []:
            out = merge_models(self._include(include, base, path, depth), out, allow_override=False, where=str(path))
        return out

    def _extends(self, name: str, services: dict[str, Any], path: Path, depth: int, chain: set[str]) -> dict[str, Any]:
        svc = services[name]
        ext = svc.get("extends")
        if not ext:
            return svc
        if isinstance(ext, str):
            ext = {"service": ext}
        target = ext.get("service")
        where = f"{path.name}: services.{name}.extends"
        if not target:
            raise ComposeError(f"{where}: needs `service`", hint="Write `extends: {service: base}`.")
        if ext.get("file"):
            other = N.absolutise(str(ext["file"]), path.parent)
            if not Path(other).is_file():
                raise ComposeError(f"{where}: {other} not found", hint="The file is relative to the extending file.")
            base_doc = self.read(Path(other), depth + 1)
            base_services = base_doc.get("services", {})
            if target not in base_services:
                raise ComposeError(f"{where}: service {target!r} not found in {other}",
                                   hint=f"Services there: {', '.join(sorted(base_services)) or 'none'}.")
            base = base_services[target]
        else:
            if target in chain or target == name:
                raise ComposeError(f"{where}: circular extends ({' -> '.join([*chain, name, target])})",
                                   hint="One of these services must not extend the others.")
            if target not in services:
                raise ComposeError(f"{where}: service {target!r} not found", hint="Extend a service defined in the file.")
            base = self._extends(target, services, path, depth, chain | {name})
        merged = merge_service(dict(base), {k: v for k, v in svc.items() if k != "extends"})
        merged.pop("extends", None)
        return merged

    def _include(self, include: Any, base: Path, path: Path, depth: int) -> dict[str, Any]:
        """An included project: its own env (its env_file, or the .env of its folder, under ours) and folder."""
        where = f"{path}: include"
        entry = {"path": include} if isinstance(include, str) else include
        if not isinstance(entry, dict):
            raise ComposeError(f"{where}: {include!r} must be a path or a mapping with `path`",
                               hint="Write `include: [other/compose.yaml]`.")
        paths = entry.get("path")
        paths = paths if isinstance(paths, list) else [paths]
        if not paths or not all(isinstance(p, str) and p for p in paths):
            raise ComposeError(f"{where}: needs a path", hint="Write `include: [{path: other/compose.yaml}]`.")
        targets = [Path(N.absolutise(p, base)) for p in paths]
        for target in targets:
            if not target.is_file():
                raise ComposeError(f"{where}: {target} not found", hint="Fix the path; it is relative to the including file.")
        folder = entry.get("project_directory")
        project_dir = Path(N.absolutise(str(folder), base)) if folder else targets[0].parent
        env_files = entry.get("env_file")
        env_files = env_files if isinstance(env_files, list) else [env_files] if env_files else []
        files = [Path(N.absolutise(str(f), base)) for f in env_files] or (
            [project_dir / ".env"] if (project_dir / ".env").is_file() else [])
        env: dict[str, str] = {}
        for f in files:
            env.update({k: v for k, v in read_env_file(f, self.environ, warn=self.warn).items() if v is not None})
        env.update(self.environ)  # the including project's environment wins, as in docker compose
        reader = _Reader(env, self.warnings)
        reader._seen_warnings = self._seen_warnings
        model: dict[str, Any] = {}
        for target in targets:
            model = merge_models(model, reader.read(target, depth + 1, project_dir), where=str(target))
        return model


def _env(environ: Mapping[str, str], env_files: list[Path], project_dir: Path, warn) -> dict[str, str]:
    """The project's environment: --env-file files (default: .env in the project folder) under the shell's."""
    files = env_files or ([project_dir / ".env"] if (project_dir / ".env").is_file() else [])
    merged: dict[str, str] = {}
    for f in files:
        for k, v in read_env_file(f, {**merged, **environ}, warn=warn).items():
            if v is not None:
                merged[k] = v
    return {**merged, **environ}  # the shell wins over .env, as in docker compose


def _apply_profiles(model: dict[str, Any], active: set[str]) -> None:
    services = model.get("services", {})
    if "*" in active:
        return
    for name in [n for n, s in services.items() if s.get("profiles") and not set(s["profiles"]) & active]:
        del services[name]


def _load_env_files(svc: dict[str, Any], environ: Mapping[str, str], warn) -> None:
    """env_file contents join `environment` (which wins), as `docker compose config` prints them."""
    env: dict[str, Any] = {}
    for ref in svc.pop("env_file") or []:
        values = read_env_file(Path(ref["path"]), environ, required=ref.get("required", True), warn=warn)
        env.update({k: None if v is None else v.replace("$", "$$") for k, v in values.items()})
    env.update(svc.get("environment") or {})
    svc["environment"] = env


def _load_label_files(svc: dict[str, Any], base_labels: Mapping[str, Any], warn) -> None:
    """label_file contents join `labels` (which win), as `docker compose config` prints them."""
    files = svc.pop("label_file")
    labels: dict[str, Any] = {}
    for path in files if isinstance(files, list) else [files]:
        values = read_env_file(Path(path), {}, warn=warn)
        labels.update({k: None if v is None else v.replace("$", "$$") for k, v in values.items()})
    labels.update(base_labels)
    svc["labels"] = labels


_SERVICE_REF = ("network_mode", "ipc", "pid", "uts", "cgroup")


def _implicit_dependencies(svc: dict[str, Any]) -> None:
    """links, volumes_from and `service:` namespaces make a service depend on another, as in docker compose."""
    restarting = [link.split(":", 1)[0] for link in svc.get("links") or []]
    restarting += [ref[len("service:"):] for key in _SERVICE_REF
                   if isinstance(ref := svc.get(key), str) and ref.startswith("service:")]
    mounting = [vol.split(":", 1)[0] for vol in svc.get("volumes_from") or [] if not vol.startswith("container:")]
    for names, restart in ((restarting, {"restart": True}), (mounting, {})):
        for name in names:
            deps = svc.setdefault("depends_on", {})
            deps.setdefault(name, {"condition": "service_started", **restart, "required": True})


_COLLAPSED = ("volumes", "tmpfs", "secrets", "configs", "ports", "expose", "dns", "dns_search", "dns_opt", "cap_add",
              "cap_drop", "profiles", "links", "devices")


def _unique_items(svc: dict[str, Any], where: str) -> None:
    for key in APPENDED:
        items = svc.get(key) or []
        for j, item in enumerate(items):
            if item in items[:j]:
                raise ComposeError(f"{where}.{key}: items {items.index(item)} and {j} are equal ({item!r})",
                                   hint="Remove the repeated item (an override file may repeat one of the base file).")


def _limits(svc: dict[str, Any], where: str) -> None:
    """mem_limit and cpus are shorthands for deploy's limits: both set to different values is refused."""
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    replicas = (svc.get("deploy") or {}).get("replicas")
    if svc.get("scale") is not None and replicas is not None and svc["scale"] != replicas:
        raise ComposeError(f"{where}: can't set distinct values on 'scale' and 'deploy.replicas'",
                           hint="Keep one of them, or give both the same value.")
    for short, long in (("mem_limit", "memory"), ("cpus", "cpus")):
        if svc.get(short) is not None and limits.get(long) is not None and \
                float(svc[short]) != float(limits[long]):
            raise ComposeError(f"{where}: can't set distinct values on '{short}' and 'deploy.resources.limits.{long}'",
                               hint="Keep one of them, or give both the same value.")


def _mounts(svc: dict[str, Any], where: str) -> None:
    """Repeated entries collapse; a target mounted twice (tmpfs and a volume, say) is refused."""
    for key in _COLLAPSED:
        if isinstance(svc.get(key), list):
            svc[key] = unique_entries(key, svc[key])
    mounted: dict[str, str] = {}
    for i, entry in enumerate(svc.get("tmpfs") or []):
        target = entry.split(":", 1)[0]
        if target in mounted:
            raise ComposeError(f"{where}.tmpfs[{i}]: target {target} already mounted as {mounted[target]}",
                               hint="Mount one thing per path in the container.")
        mounted[target] = f"{where}.tmpfs[{i}]"
    for i, volume in enumerate(svc.get("volumes") or []):
        if volume["target"] in mounted:
            raise ComposeError(f"{where}.volumes[{i}]: target {volume['target']} already mounted as "
                               f"{mounted[volume['target']]}", hint="Mount one thing per path in the container.")


def _check_references(model: dict[str, Any]) -> None:
    services = model["services"]
    for name, svc in services.items():
        where = f"services.{name}"
        _mounts(svc, where)
        _unique_items(svc, where)
        _limits(svc, where)
        if "image" not in svc and "build" not in svc:
            raise ComposeError(f"{where}: has neither an image nor a build section",
                               hint="Set `image:`; the gateway deploys images, it does not build them.")
        if svc.get("networks") and svc.get("network_mode") is not None:
            raise ComposeError(f"{where}: `network_mode` and `networks` cannot both be set",
                               hint="Keep one: networks for service-to-service traffic, network_mode otherwise.")
        for dep, spec in (svc.get("depends_on") or {}).items():
            if dep not in services and spec.get("required", True):
                raise ComposeError(f"{where}.depends_on: service {dep!r} is not defined (or its profile is not enabled)",
                                   hint="Define it, or enable its profile with --profile.")
        for net in svc.get("networks") or {}:
            if net != "default" and net not in (model.get("networks") or {}):
                raise ComposeError(f"{where}.networks: network {net!r} is not declared at the top level",
                                   hint=f"Add `networks: {{{net}: {{}}}}` at the top level.")
        for i, vol in enumerate(svc.get("volumes") or []):
            if vol["type"] == "volume" and vol.get("source") and vol["source"] not in (model.get("volumes") or {}):
                raise ComposeError(f"{where}.volumes[{i}]: named volume {vol['source']!r} is not declared at the top level",
                                   hint=f"Add `volumes: {{{vol['source']}: {{}}}}` at the top level.")
        for section in ("secrets", "configs"):
            for i, ref in enumerate(svc.get(section) or []):
                if ref["source"] not in (model.get(section) or {}):
                    raise ComposeError(f"{where}.{section}[{i}]: {ref['source']!r} is not declared at the top level",
                                       hint=f"Declare it under the top-level `{section}:`.")


def _used(services: dict[str, Any]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {"networks": set(), "volumes": set(), "secrets": set(), "configs": set()}
    for svc in services.values():
        used["networks"].update(svc.get("networks") or {})
        used["volumes"].update(v["source"] for v in svc.get("volumes") or [] if v["type"] == "volume" and v.get("source"))
        for section in ("secrets", "configs"):
            used[section].update(ref["source"] for ref in svc.get(section) or [])
    return used


def _resources(model: dict[str, Any], project: str, warn) -> None:
    """Top-level networks, volumes, secrets and configs: only those a service uses, with their real names."""
    used = _used(model["services"])
    if "default" in used["networks"]:
        model.setdefault("networks", {}).setdefault("default", None)
    for section in ("networks", "volumes", "secrets", "configs"):
        entries = model.get(section) or {}
        kept = {}
        for key, spec in entries.items():
            if key not in used[section]:
                continue  # docker compose config leaves out what no (enabled) service uses
            spec = dict(spec or {})
            external = spec.get("external")
            if isinstance(external, dict):  # the old `external: {name: x}` form
                warn(f"{section}.{key}: external.name is deprecated. Please set name and external: true")
                if external.get("name"):
                    spec.setdefault("name", external["name"])
                spec["external"] = True
            spec.setdefault("name", key if spec.get("external") else f"{project}_{key}")
            if section == "networks":
                spec.setdefault("ipam", {})
            kept[key] = spec
        if kept:
            model[section] = kept
        else:
            model.pop(section, None)


def _finish(model: dict[str, Any], project: str, environ: Mapping[str, str], warn) -> None:
    services = model.setdefault("services", {})
    for svc in services.values():
        svc.setdefault("command", None)
        svc.setdefault("entrypoint", None)
        for spec in (svc.get("depends_on") or {}).values():
            spec.setdefault("condition", "service_started")
            spec.setdefault("required", True)
        if isinstance(svc.get("build"), dict) and "dockerfile_inline" not in svc["build"]:
            svc["build"].setdefault("dockerfile", "Dockerfile")
        if not svc.get("networks") and svc.get("network_mode") is None:
            svc["networks"] = {"default": None}
        if "env_file" in svc:
            _load_env_files(svc, environ, warn)
        if "label_file" in svc:
            _load_label_files(svc, svc.get("labels") or {}, warn)
        _implicit_dependencies(svc)
    _check_references(model)
    _resources(model, project, warn)


_HEALTHCHECK_ORDER = ("test", "timeout", "interval", "retries", "start_period", "start_interval", "disable")
_SORTED_MAPS = ("environment", "labels", "annotations", "sysctls", "depends_on", "networks", "extra_hosts")


def _docker_order(model: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order `docker compose config` prints them (Go maps: sorted), so the two outputs diff cleanly."""
    def by_key(mapping: dict[str, Any]) -> dict[str, Any]:
        return dict(sorted(mapping.items()))

    def first(mapping: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:  # a Go struct's leading fields
        return {**{k: mapping[k] for k in keys if k in mapping}, **mapping}

    services = {}
    for name, svc in sorted(model["services"].items()):
        svc = {k: by_key(v) if k in _SORTED_MAPS and isinstance(v, dict) else v for k, v in svc.items()}
        if isinstance(svc.get("build"), dict):
            svc["build"] = first(svc["build"], ("context", "dockerfile"))
        if isinstance(svc.get("healthcheck"), dict):
            svc["healthcheck"] = first(svc["healthcheck"], _HEALTHCHECK_ORDER)
        services[name] = by_key(svc)
    out = {k: by_key({n: first(spec, ("name",)) if isinstance(spec, dict) else spec for n, spec in v.items()})
           if isinstance(v, dict) and k in ("networks", "volumes", "secrets", "configs") else v
           for k, v in model.items()}
    out["services"] = services
    return by_key(out)


def _compose_files(cwd: Path, files: list[str | Path], environ: Mapping[str, str]) -> list[Path]:
    """-f files; else COMPOSE_FILE; else compose.yaml (in this folder or a parent) and its override file."""
    paths = [Path(f) if Path(f).is_absolute() else cwd / f for f in files]
    if not paths and environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        paths = [cwd / p for p in environ["COMPOSE_FILE"].split(separator) if p]
    if not paths:
        found = find_default_file(cwd)
        override = next((found.parent / n for n in OVERRIDE_FILES if (found.parent / n).is_file()), None)
        paths = [found, override] if override else [found]
    for p in paths:
        if not p.is_file():
            raise ComposeError(f"compose file {p} not found", hint="Check the path given with -f.")
    return paths


def _project_name(explicit: str | None, env: Mapping[str, str], model: dict[str, Any], project_dir: Path) -> str:
    """-p, then COMPOSE_PROJECT_NAME, must be valid as given; `name:` and the folder name are normalised."""
    for given, source in ((explicit, "-p"), (env.get("COMPOSE_PROJECT_NAME"), "COMPOSE_PROJECT_NAME")):
        if given:
            if not is_compose_project_name(given):
                raise ComposeError(f"invalid project name {given!r} (from {source}): it must contain only lowercase "
                                   "letters, digits, '-' and '_', and start with a letter or digit",
                                   hint=f"Try {normalise_project_name(given) or 'myproject'!r}.")
            return given
    name = model.get("name")
    normalised = normalise_project_name(str(name if name else project_dir.name))
    if not normalised:
        raise ComposeError(f"project name {str(name or project_dir.name)!r} has no valid characters",
                           hint="Set `name:` in the compose file, or pass -p with lowercase letters, digits, '-' or '_'.")
    return normalised


def load_project(files: list[str | Path] | None = None, *, project_name: str | None = None,
                 env_files: list[str | Path] | None = None, profiles: list[str] | None = None,
                 environ: Mapping[str, str] | None = None, working_dir: str | Path | None = None) -> ComposeProject:
    environ = dict(os.environ if environ is None else environ)
    cwd = Path(working_dir).absolute() if working_dir else Path.cwd()
    warnings: list[str] = []
    reader = _Reader(environ, warnings)
    given_env_files = [Path(e) if Path(e).is_absolute() else cwd / e for e in (env_files or [])]
    # Without -f, COMPOSE_FILE may come from the .env of the working folder, as in docker compose.
    lookup = environ if files else _env(environ, given_env_files, cwd, reader.warn)
    paths = _compose_files(cwd, list(files or []), lookup)
    project_dir = Path(os.path.normpath(paths[0].parent.absolute()))
    env = _env(environ, given_env_files, project_dir, reader.warn)
    reader.environ = env
    model: dict[str, Any] = {}
    for p in paths:
        model = merge_models(model, reader.read(Path(os.path.normpath(p.absolute()))), where=str(p))
    name = _project_name(project_name, env, model, project_dir)
    model["name"] = name
    active = set(profiles or []) | {p for p in env.get("COMPOSE_PROFILES", "").split(",") if p}
    _apply_profiles(model, active)
    _finish(model, name, env, reader.warn)
    model = _docker_order(drop_empty(model))
    validate_model(model)  # the gateway checks the same; refusing here names the problem before anything is sent
    return ComposeProject(name=name, model=model, files=[str(p) for p in paths], working_dir=str(project_dir),
                          warnings=warnings)
