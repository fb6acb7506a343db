"""Generated env files: random (seeded) mixes of quoting, comments, `export`, separators and interpolation,
read into a service's environment as Docker Compose reads them, or refused where Docker Compose refuses them."""

from __future__ import annotations

import random

import pytest

from spin_gateway.compose_loader import load_project
from spin_gateway.vocabulary.errors import ComposeError
from tests.compose.diff import differences
from tests.compose.oracle import docker_compose_config, oracle_environment

VALUES = ["plain", "with space", "a#b", "a #c", "$SHELLV", "${SHELLV}", "${NOPE:-dflt}", "${K1}", "x$$y", "tab\\there",
          "back\\\\slash", "'single $SHELLV'", '"double $SHELLV"', '"esc \\"q\\" \\n \\t \\\\ \\$x"', "'multi\nline'",
          '"multi\nline2"', "", "=eq=", "  padded  ", '"unterminated', "'it''s'", "${SHELLV:+alt}", "trailing\\",
          '"#hash"', "'#hash'", "#lead", "ünï", "a\tb", '"q" AFTER=1', "'q' # comment"]


def _env_file(seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(rng.randint(1, 6)):
        if rng.random() < 0.1:
            lines.append(rng.choice(["# comment", "", "   ", "  # indented comment", "SHELLV", "UNSET_BARE"]))
            continue
        prefix = rng.choice(["", "", "export "])
        separator = rng.choice(["=", "=", "=", " = ", ": "])
        lines.append(f"{prefix}K{i}{separator}{rng.choice(VALUES)}")
    end = rng.choice(["\n", ""])
    if lines[-1] in ("SHELLV", "UNSET_BARE"):
        end = "\n"  # Docker Compose 2.40.3 reads an unset bare KEY at the very end as {"": "KEY"}: a bug not copied
    return "\n".join(lines) + end


@pytest.mark.parametrize("seed", range(200), ids=lambda s: f"seed-{s}")
def test_generated_env_file_reads_as_docker_compose_reads_it(tmp_path, seed):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: a\n    env_file: [x.env]\n")
    text = _env_file(seed)
    (tmp_path / "x.env").write_text(text)
    env = {"SHELLV": "shell"}
    theirs = docker_compose_config(tmp_path, [], env, [])
    try:
        ours = load_project([], environ=oracle_environment(tmp_path, env), working_dir=tmp_path).model
    except ComposeError as exc:
        assert isinstance(theirs, str), f"we refuse what docker compose accepts: {exc.message}\n{text!r}"
        return
    assert not isinstance(theirs, str), f"docker compose refuses what we accept: {theirs}\n{text!r}"
    diffs = differences(ours, theirs)
    assert not diffs, "\n".join(diffs) + f"\n{text!r}"
