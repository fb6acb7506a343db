"""Real-world compose files: our reading equals Docker Compose's, field by field."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from spin_gateway.compose_loader import load_project, to_json
from spin_gateway.vocabulary.errors import ComposeError
from tests.compose.diff import differences
from tests.compose.oracle import docker_compose_config, oracle_environment

# The corpus lives beside the repository (../shared/corpus), not in it: its files come from a public repository.
# SPIN_COMPOSE_CORPUS points elsewhere; without a corpus the test below fails rather than passing empty.
CORPUS = Path(os.environ.get("SPIN_COMPOSE_CORPUS")
              or Path(__file__).resolve().parents[3] / "shared/corpus/compose/awesome-compose")
if not CORPUS.is_dir() and "SPIN_COMPOSE_CORPUS" not in os.environ:
    CORPUS = Path("/work/shared/corpus/compose/awesome-compose")
SAMPLES = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def _file(folder: Path) -> Path:
    return next(folder / n for n in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
                if (folder / n).exists())


def test_the_corpus_is_there():
    assert len(SAMPLES) >= 30, f"the compose corpus was not found at {CORPUS}: set SPIN_COMPOSE_CORPUS"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if (s / "reference.json").exists()], ids=lambda p: p.name)
def test_sample_reads_as_docker_compose_reads_it(sample):
    # The references were made as root with no other variables: HOME=/root is what `~` expanded to.
    ours = load_project([_file(sample)], environ={"HOME": "/root"}).model
    theirs = json.loads((sample / "reference.json").read_text().replace("{project_dir}", str(sample)))
    diffs = differences(ours, theirs)
    assert not diffs, f"{sample.name}: {len(diffs)} differences:\n" + "\n".join(diffs)


@pytest.mark.parametrize("sample", [s for s in SAMPLES if (s / "reference.json").exists()], ids=lambda p: p.name)
def test_sample_prints_as_docker_compose_prints_it(sample):
    """Same keys in the same order, so `spin config --format json` and `docker compose config` diff cleanly."""
    ours = to_json(load_project([_file(sample)], environ={"HOME": "/root"}).model)
    theirs = (sample / "reference.json").read_text().replace("{project_dir}", str(sample))
    assert ours == theirs, "\n".join(difflib.unified_diff(theirs.splitlines(), ours.splitlines(), "docker compose",
                                                         "spin", lineterm=""))


def test_plex_without_its_variable_is_refused_as_docker_compose_refuses_it():
    with pytest.raises(ComposeError) as info:
        load_project([_file(CORPUS / "plex")], environ={})
    assert "empty section between colons" in info.value.message
    assert "services.plex.volumes[0]" in info.value.message
    assert "PLEX_MEDIA_PATH is not set" in info.value.message and "PLEX_MEDIA_PATH" in info.value.hint


def test_plex_with_its_variable_reads_as_docker_compose_reads_it():
    env = {"PLEX_MEDIA_PATH": "/srv/media"}
    theirs = docker_compose_config(CORPUS / "plex", [], env, [])
    assert not isinstance(theirs, str), theirs
    ours = load_project([], environ=oracle_environment(CORPUS / "plex", env), working_dir=CORPUS / "plex").model
    diffs = differences(ours, theirs)
    assert not diffs, "plex: " + "\n".join(diffs)
