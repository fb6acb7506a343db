"""Generated projects: random (seeded, so repeatable) mixes of service fields in two files, read as Docker Compose reads them.

The hand-written cases cover each feature once; these cover how the features meet (merging an override that
changes the syntax of a field, a profile, an env file, anchors in neither) across many combinations.
"""

from __future__ import annotations

import random

import pytest
import yaml

from spin_gateway.compose_loader import load_project
from spin_gateway.vocabulary.errors import ComposeError
from tests.compose.diff import differences
from tests.compose.oracle import docker_compose_config, oracle_environment

CHOICES = {
    "ports": [["80"], ["8080:80"], ["127.0.0.1:80:80/udp"], [{"target": 80, "published": "81"}],
              ["1000-1001:2000-2001"], [8080]],
    "volumes": [["./a:/a"], ["vol:/v:ro"], ["/anon"], [{"type": "bind", "source": ".", "target": "/b"}], ["~/x:/x:z"]],
    "environment": [{"A": 1}, ["A=1", "B"], {"C": None}, {"D": "${X:-d}"}, ["E=$${Y}"], {"F": True}],
    "command": ["echo hi", ["a", "b"], "sh -c 'x y'", None, []],
    "entrypoint": ["/bin/sh", ["x"], None],
    "depends_on": [["db"], {"db": {"condition": "service_healthy"}},
                   {"db": {"condition": "service_started", "required": False}}],
    "healthcheck": [{"test": "true", "interval": "30s"}, {"test": ["CMD", "x"], "retries": 2, "start_period": "1m"},
                    {"disable": True}],
    "labels": [["a=b"], {"x": "1"}, {"n": 2}],
    "restart": ["always", "no", "on-failure"],
    "user": ["1000", "1000:1000", "root"],
    "networks": [["front"], {"front": {"aliases": ["x"]}}, {"front": None, "back": {}}],
    "secrets": [["s"], [{"source": "s", "target": "/x", "mode": 0o400}]],
    "configs": [["c"], [{"source": "c", "target": "/c"}]],
    "deploy": [{"replicas": 2}, {"resources": {"limits": {"memory": "1g", "cpus": "0.5"}}},
               {"restart_policy": {"condition": "on-failure", "delay": "5s"}}],
    "tmpfs": ["/tmp", ["/run", "/scratch:size=1m"]],
    "cap_add": [["NET_ADMIN"]],
    "cap_drop": [["ALL"]],
    "read_only": [True, False],
    "privileged": [False, True],
    "stop_grace_period": ["30s", "1m"],
    "shm_size": ["64m", 1024],
    "extra_hosts": [["h:1.2.3.4"], {"h": "::1"}],
    "env_file": ["svc.env", [{"path": "svc.env", "required": False}]],
    "expose": [["80"], [3000]],
    "profiles": [["p"]],
    "working_dir": ["/app"],
    "init": [True],
    "sysctls": [{"net.core.somaxconn": 1024}],
    "ulimits": [{"nofile": {"soft": 1, "hard": 2}}, {"nproc": 10}],
    "build": [".", {"context": ".", "dockerfile": "Other", "args": ["A=1"]}, {"args": {"B": "2"}, "target": "t"}],
    "logging": [{"driver": "json-file", "options": {"max-size": "1m"}}, {"options": {"max-file": 3}}],
    "dns": ["8.8.8.8", ["1.1.1.1", "8.8.8.8"]],
    "links": [["db"], ["db:database"]],
    "devices": [["/dev/fuse"], ["/dev/a:/dev/b:r"]],
    "annotations": [{"a": "1"}, ["b=2"]],
    "hostname": ["web", ""],
    "mem_limit": ["512m", "1g"],
    "stop_signal": ["SIGTERM"],
    "security_opt": [["no-new-privileges:true"], ["label=disable"]],
    "network_mode": ["host", "service:db"],
    "pull_policy": ["always", "missing"],
    "cpus": [0.5, "1.5"],
    "group_add": [["100"], [1000]],
}


def _project(seed: int) -> tuple[dict, dict | None]:
    rng = random.Random(seed)
    web = {"image": "img:${TAG:-1}"}
    for key in rng.sample(sorted(CHOICES), rng.randint(2, 10)):
        web[key] = rng.choice(CHOICES[key])
    override = {key: rng.choice(CHOICES[key]) for key in rng.sample(sorted(CHOICES), rng.randint(0, 4))}
    base = {"services": {"web": web, "db": {"image": "db"}}, "volumes": {"vol": {}},
            "networks": {"front": {}, "back": {}}, "secrets": {"s": {"file": "./s.txt"}},
            "configs": {"c": {"content": "x"}}}
    return base, ({"services": {"web": override}} if override else None)


@pytest.mark.parametrize("seed", range(600), ids=lambda s: f"seed-{s}")
def test_generated_project_reads_as_docker_compose_reads_it(tmp_path, seed):
    base, override = _project(seed)
    (tmp_path / "svc.env").write_text("S=1\n")
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(base))
    files = ["compose.yaml"]
    if override:
        (tmp_path / "override.yaml").write_text(yaml.safe_dump(override))
        files.append("override.yaml")
    theirs = docker_compose_config(tmp_path, files, {}, ["p"])
    try:
        ours = load_project(files, environ=oracle_environment(tmp_path, {}), profiles=["p"], working_dir=tmp_path).model
    except ComposeError as exc:
        assert isinstance(theirs, str), f"we refuse what docker compose accepts: {exc.message}\n{base}\n{override}"
        return
    assert not isinstance(theirs, str), f"docker compose refuses what we accept: {theirs}\n{base}\n{override}"
    diffs = differences(ours, theirs)
    assert not diffs, f"{len(diffs)} differences:\n" + "\n".join(diffs) + f"\n{base}\n{override}"


_VARIABLE_FORMS = ["${V}", "${V:-d}", "${V-d}", "${V:+a}", "${V+a}", "$V", "${V:-${W:-deep}}", "x$${V}y", "${W:-$$}"]


def _project_files(seed: int, folder) -> tuple[dict[str, str], list[str]]:
    """A project of several features at once: .env, interpolation, anchors, extends, include, profiles."""
    rng = random.Random(10_000 + seed)
    env = {k: rng.choice(["set", "", "a b", "x$y"]) for k in ("V", "W") if rng.random() < 0.6}
    if rng.random() < 0.5:
        (folder / ".env").write_text("".join(f"{k}={rng.choice(['dot', '', 'q'])}\n" for k in ("V", "W", "TAG")
                                             if rng.random() < 0.6))
    form = lambda: rng.choice(_VARIABLE_FORMS).replace("V", rng.choice(["V", "W", "TAG"]), 1)  # noqa: E731
    lines = ["x-common: &common", f"  image: \"img:{form()}\"", "  environment:", f"    FROM_ANCHOR: \"{form()}\""]
    if rng.random() < 0.5:
        lines.append("include:\n  - sub/compose.yaml")
        (folder / "sub").mkdir()
        (folder / "sub" / "compose.yaml").write_text(
            f"services:\n  inc:\n    image: inc\n    volumes: [\"./data:/data\"]\n    labels: {{l: \"{form()}\"}}\n")
    lines.append("services:")
    lines += ["  base:", "    <<: *common", f"    command: [\"run\", \"{form()}\"]"]
    if rng.random() < 0.5:
        lines += ["    profiles: [\"extra\"]"]
    lines += ["  child:", "    extends: base", f"    environment: {{OWN: \"{form()}\"}}"]
    if rng.random() < 0.5:
        lines += ["    profiles: [\"" + rng.choice(["extra", "other"]) + "\"]"]
    lines += ["  other:", "    <<: *common", f"    ports: [\"{rng.choice(['80', '8080:80', '${PORT:-81}:80'])}\"]"]
    if rng.random() < 0.4:
        lines.insert(0, f"name: \"proj-{form().lower()}\"")
    (folder / "compose.yaml").write_text("\n".join(lines) + "\n")
    return env, rng.sample(["extra", "other"], rng.randint(0, 2))


@pytest.mark.parametrize("seed", range(150), ids=lambda s: f"seed-{s}")
def test_generated_project_features_meet_as_in_docker_compose(tmp_path, seed):
    env, profiles = _project_files(seed, tmp_path)
    theirs = docker_compose_config(tmp_path, [], env, profiles)
    text = (tmp_path / "compose.yaml").read_text()
    try:
        ours = load_project([], environ=oracle_environment(tmp_path, env), profiles=profiles, working_dir=tmp_path).model
    except ComposeError as exc:
        assert isinstance(theirs, str), f"we refuse what docker compose accepts: {exc.message}\n{text}\n{env}"
        return
    assert not isinstance(theirs, str), f"docker compose refuses what we accept: {theirs}\n{text}\n{env}"
    diffs = differences(ours, theirs)
    assert not diffs, "\n".join(diffs) + f"\n{text}\n{env} {profiles}"
