"""Our own cases, one folder per compose feature, each compared live with the Docker Compose binary.

A case folder holds the compose files and an optional case.json:
  files        the -f files, in order (default: none given, so the default file is looked up)
  env          the whole environment both readers see (nothing leaks in from the shell running the tests)
  profiles     --profile values
  env_files    --env-file values
  project_name -p
  error        Docker Compose refuses the case: both must refuse, ours with a message holding this text
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spin_gateway.compose_loader import load_project
from spin_gateway.vocabulary.errors import ComposeError
from tests.compose.diff import differences
from tests.compose.oracle import docker_compose_config, oracle_environment

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())


def _spec(case: Path) -> dict:
    path = case / "case.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_there_are_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case_reads_as_docker_compose_reads_it(case):
    spec = _spec(case)
    files, env, profiles = spec.get("files", []), spec.get("env", {}), spec.get("profiles", [])
    extra = [a for e in spec.get("env_files", []) for a in ("--env-file", e)]
    if spec.get("project_name"):
        extra += ["-p", spec["project_name"]]
    theirs = docker_compose_config(case, files, env, profiles, extra)
    def load():
        return load_project(list(files), environ=oracle_environment(case, env), profiles=profiles,
                            env_files=spec.get("env_files"), project_name=spec.get("project_name"), working_dir=case)
    if "error" in spec:
        assert isinstance(theirs, str), f"{case.name}: docker compose accepts this case; fix case.json"
        with pytest.raises(ComposeError) as info:
            load()
        assert spec["error"] in info.value.message, (
            f"{case.name}: our message {info.value.message!r} lacks {spec['error']!r} (docker compose: {theirs})")
        assert info.value.hint, "every refusal says what to do"
        return
    assert not isinstance(theirs, str), f"{case.name}: docker compose refuses this case: {theirs}"
    ours = load().model
    diffs = differences(ours, theirs)
    assert not diffs, f"{case.name}: {len(diffs)} differences from docker compose:\n" + "\n".join(diffs)
