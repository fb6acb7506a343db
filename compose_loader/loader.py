"""Compose files -> the canonical model, in the shape `docker compose config --format json` prints.

Runs on the user's machine (the CLI): env files, includes, extends and relative
paths are resolved here, so the gateway never opens a path a request names.
Order of work, as Docker Compose: find files -> environment (.env) -> per file:
parse, interpolate, include, extends, normalise -> merge files in order ->
profiles -> project-level defaults (networks, volume and secret names) -> checks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from interceptor.errors import ComposeError
from compose_loader import normalize as N
from compose_loader.envfile import read_env_file
from compose_loader.interpolation import interpolate
from compose_loader.merge import merge_models, merge_service
from compose_loader.yaml_safe import load_yaml_file

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


def _default_in(folder: Path) -> Path | None:
    return next((folder / n for n in DEFAULT_FILES if (folder / n).is_file()), None)
MAX_INCLUDE_DEPTH = 8
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass
class ComposeProject:
    name: str
    model: dict[str, Any]
    files: list[str]
    working_dir: str
    warnings: list[str] = field(default_factory=list)


def normalise_project_name(name: str) -> str:
    """As Docker Compose: lowercase, only [a-z0-9_-], starting with a letter or digit."""
    cleaned = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return cleaned.lstrip("_-")


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


def _service_fields(raw: dict[str, Any], where: str, base: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """Normalise one service's fields to the long syntax (no defaults that merging would override)."""
    svc = dict(raw)
    converters: dict[str, Callable[[Any], Any]] = {
        "ports": lambda v: N.ports(v, f"{where}.ports"),
        "volumes": lambda v: N.volumes(v, f"{where}.volumes", base),
        "environment": lambda v: N.key_values(v, f"{where}.environment", environ),
        "labels": lambda v: N.key_values(v, f"{where}.labels"),
        "annotations": lambda v: N.key_values(v, f"{where}.annotations"),
        "command": lambda v: N.command(v, f"{where}.command"),
        "entrypoint": lambda v: N.command(v, f"{where}.entrypoint"),
        "depends_on": lambda v: N.depends_on(v, f"{where}.depends_on"),
        "secrets": lambda v: N.file_refs(v, f"{where}.secrets"),
        "configs": lambda v: N.file_refs(v, f"{where}.configs"),
        "env_file": lambda v: N.env_files(v, f"{where}.env_file", base),
        "build": lambda v: N.build(v, f"{where}.build", base),
        "networks": lambda v: N.networks(v, f"{where}.networks"),
        "expose": lambda v: N.string_list(v, f"{where}.expose"),
        "dns": lambda v: N.string_list(v, f"{where}.dns"),
        "tmpfs": lambda v: N.string_list(v, f"{where}.tmpfs"),
        "profiles": lambda v: N.string_list(v, f"{where}.profiles"),
        "sysctls": lambda v: N.key_values(v, f"{where}.sysctls"),
        "extra_hosts": lambda v: v if isinstance(v, dict) else N.key_values(
            [x.replace(":", "=", 1) if "=" not in x else x for x in v], f"{where}.extra_hosts"),
        "deploy": lambda v: N.deploy(v, f"{where}.deploy"),
        "shm_size": lambda v: N.byte_size(v, f"{where}.shm_size"),
        "mem_limit": lambda v: N.byte_size(v, f"{where}.mem_limit"),
        "cap_add": lambda v: N.string_list(v, f"{where}.cap_add"),
        "cap_drop": lambda v: N.string_list(v, f"{where}.cap_drop"),
        "security_opt": lambda v: N.string_list(v, f"{where}.security_opt"),
    }
    for key, convert in converters.items():
        if key in svc and svc[key] is not None:
            svc[key] = convert(svc[key])
    if "healthcheck" in svc and isinstance(svc["healthcheck"], dict) and isinstance(svc["healthcheck"].get("test"), str):
        test = svc["healthcheck"]["test"]
        svc["healthcheck"] = {**svc["healthcheck"], "test": ["CMD-SHELL", test] if test not in ("NONE",) else ["NONE"]}
    return svc


class _Reader:
    def __init__(self, environ: Mapping[str, str], warnings: list[str]):
        self.environ = environ
        self.warnings = warnings
        self._seen_warnings: set[str] = set()

    def warn(self, message: str) -> None:
        if message not in self._seen_warnings:
            self._seen_warnings.add(message)
            self.warnings.append(message)

    def read(self, path: Path, depth: int = 0) -> dict[str, Any]:
        """One file: parsed, interpolated, includes and extends resolved, services normalised."""
        if depth > MAX_INCLUDE_DEPTH:
            raise ComposeError(f"{path}: includes and extends nest deeper than {MAX_INCLUDE_DEPTH}")
        raw = load_yaml_file(path)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ComposeError(f"{path}: the top level must be a mapping, found {type(raw).__name__}")
        for key in raw:
            if not isinstance(key, str):
                raise ComposeError(f"{path}: top-level key {key!r} is not a string")
        base = path.parent
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
            raise ComposeError(f"{path}: services must be a mapping of service names")
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
                raise ComposeError(f"{where}: must be a mapping")
            normalised[name] = _service_fields(svc, where, base, self.environ)
        # extends: the base service first, this file's fields over it
        for name in list(normalised):
            normalised[name] = self._extends(name, normalised, path, depth, set())
        out["services"] = normalised
        for section in ("secrets", "configs"):
            for key, spec in (out.get(section) or {}).items():
                if isinstance(spec, dict) and spec.get("file"):
                    spec["file"] = N._absolutise(str(spec["file"]), base)
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
            raise ComposeError(f"{where}: needs `service`")
        if ext.get("file"):
            other = N._absolutise(str(ext["file"]), path.parent)
            base_doc = self.read(Path(other), depth + 1)
            base_services = base_doc.get("services", {})
            if target not in base_services:
                raise ComposeError(f"{where}: service {target!r} not found in {other}")
            base = base_services[target]
        else:
            if target in chain or target == name:
                raise ComposeError(f"{where}: circular extends ({' -> '.join([*chain, name, target])})")
            if target not in services:
                raise ComposeError(f"{where}: service {target!r} not found", hint="Extend a service defined in the file.")
            base = self._extends(target, services, path, depth, chain | {name})
        merged = merge_service(dict(base), {k: v for k, v in svc.items() if k != "extends"})
        merged.pop("extends", None)
        return merged

    def _include(self, include: Any, base: Path, path: Path, depth: int) -> dict[str, Any]:
        entry = {"path": include} if isinstance(include, str) else dict(include or {})
        paths = entry.get("path")
        paths = paths if isinstance(paths, list) else [paths]
        model: dict[str, Any] = {}
        for p in paths:
            if not p:
                raise ComposeError(f"{path}: include needs a path")
            target = Path(N._absolutise(str(p), base))
            model = merge_models(model, self.read(target, depth + 1), where=str(target))
        return model


def _env(environ: Mapping[str, str], env_files: list[Path], working_dir: Path) -> dict[str, str]:
    files = env_files or ([working_dir / ".env"] if (working_dir / ".env").is_file() else [])
    merged: dict[str, str] = {}
    for f in files:
        for k, v in read_env_file(f, environ).items():
            if v is not None:
                merged[k] = v
    return {**merged, **environ}  # the shell wins over .env, as in docker compose


def _apply_profiles(model: dict[str, Any], active: set[str]) -> None:
    services = model.get("services", {})
    for name in [n for n, s in services.items() if s.get("profiles") and not set(s["profiles"]) & active]:
        del services[name]


def _finish(model: dict[str, Any], project: str, environ: Mapping[str, str]) -> None:
    services = model.setdefault("services", {})
    used_default = False
    for name, svc in services.items():
        where = f"services.{name}"
        if "image" not in svc and "build" not in svc:
            raise ComposeError(f"{where}: has neither an image nor a build section",
                               hint="Set `image:`; the gateway deploys images, it does not build them.")
        svc.setdefault("command", None)
        svc.setdefault("entrypoint", None)
        if not svc.get("networks") and svc.get("network_mode") is None:
            svc["networks"] = {"default": None}
            used_default = True
        elif svc.get("networks") and "default" in svc["networks"]:
            used_default = True
        # env_file contents join the environment; `environment` wins
        if "env_file" in svc:
            env: dict[str, Any] = {}
            for ref in svc.pop("env_file") or []:
                env.update(read_env_file(Path(ref["path"]), environ, required=ref.get("required", True)))
            env.update(svc.get("environment") or {})
            svc["environment"] = env
        for dep, spec in (svc.get("depends_on") or {}).items():
            if dep not in services and spec.get("required", True):
                raise ComposeError(f"{where}.depends_on: service {dep!r} is not defined (or its profile is not enabled)",
                                   hint="Define it, or enable its profile with --profile.")
        for net in svc.get("networks") or {}:
            if net != "default" and net not in (model.get("networks") or {}):
                raise ComposeError(f"{where}.networks: network {net!r} is not declared at the top level")
        for vol in svc.get("volumes") or []:
            if vol["type"] == "volume" and vol.get("source") and vol["source"] not in (model.get("volumes") or {}):
                raise ComposeError(f"{where}.volumes: named volume {vol['source']!r} is not declared at the top level",
                                   hint=f"Add `volumes: {{{vol['source']}: {{}}}}` at the top level.")
        for section in ("secrets", "configs"):
            for ref in svc.get(section) or []:
                if ref["source"] not in (model.get(section) or {}):
                    raise ComposeError(f"{where}.{section}: {ref['source']!r} is not declared at the top level")
    networks = model.get("networks") or {}
    if used_default:
        networks.setdefault("default", None)
    for key in list(networks):
        spec = dict(networks[key] or {})
        if spec.get("external"):
            spec.setdefault("name", key)
        else:
            spec.setdefault("name", f"{project}_{key}")
            spec.setdefault("ipam", {})
        networks[key] = spec
    if networks:
        model["networks"] = networks
    for section in ("volumes", "secrets", "configs"):
        entries = model.get(section)
        if not entries:
            continue
        for key in list(entries):
            spec = dict(entries[key] or {})
            spec.setdefault("name", key if spec.get("external") else f"{project}_{key}")
            entries[key] = spec


def load_project(files: list[str | Path] | None = None, *, project_name: str | None = None,
                 env_files: list[str | Path] | None = None, profiles: list[str] | None = None,
                 environ: Mapping[str, str] | None = None, working_dir: str | Path | None = None) -> ComposeProject:
    environ = dict(os.environ if environ is None else environ)
    cwd = Path(working_dir) if working_dir else Path.cwd()
    paths = [Path(f) if Path(f).is_absolute() else cwd / f for f in (files or [])]
    if not paths and environ.get("COMPOSE_FILE"):
        paths = [cwd / p for p in environ["COMPOSE_FILE"].split(os.pathsep) if p]
    if not paths:
        paths = [find_default_file(cwd)]
    for p in paths:
        if not p.is_file():
            raise ComposeError(f"compose file {p} not found", hint="Check the path given with -f.")
    project_dir = paths[0].parent.resolve()
    env = _env(environ, [Path(e) if Path(e).is_absolute() else cwd / e for e in (env_files or [])], project_dir)
    warnings: list[str] = []
    reader = _Reader(env, warnings)
    model: dict[str, Any] = {}
    for p in paths:
        model = merge_models(model, reader.read(p.resolve()), where=str(p))
    name = project_name or env.get("COMPOSE_PROJECT_NAME") or model.get("name") or project_dir.name
    normalised = normalise_project_name(str(name))
    if not normalised:
        raise ComposeError(f"project name {name!r} has no valid characters",
                           hint="Pass -p with lowercase letters, digits, '-' or '_'.")
    if project_name and normalised != project_name:
        raise ComposeError(f"project name {project_name!r} must contain only lowercase letters, digits, '-' and '_', "
                           "and start with a letter or digit", hint=f"Try -p {normalised}.")
    model["name"] = normalised
    active = set(profiles or []) | {p for p in env.get("COMPOSE_PROFILES", "").split(",") if p}
    _apply_profiles(model, active)
    _finish(model, normalised, env)
    model = {k: v for k, v in model.items() if v != {} or k == "services"}
    return ComposeProject(name=normalised, model=model, files=[str(p) for p in paths], working_dir=str(project_dir),
                          warnings=warnings)
