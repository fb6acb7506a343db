"""Scenario folders: fixtures/<case>/compose.yaml in, expected/objects.yaml and expected/notices.json out.

Each case goes the CLI's way (loader, secret files read, model validated) and then through the translator.
To regenerate after an intended change: SPIN_UPDATE_FIXTURES=1 pytest tests/translate/test_fixtures.py,
then review the diff. Every folder is found by globbing; there is no list to keep up to date.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from spin_gateway.cli.file_sources import inline_file_sources
from spin_gateway.compose_loader import load_project, validate_model
from spin_gateway.translate import to_kubernetes
from tests.translate.helpers import LABELS
from tests.translate.schema import schema_errors

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p for p in FIXTURES.iterdir() if (p / "compose.yaml").exists())
UPDATE = os.environ.get("SPIN_UPDATE_FIXTURES") == "1"


def _translate(case: Path):
    options = json.loads((case / "options.json").read_text()) if (case / "options.json").exists() else {}
    project = load_project([case / "compose.yaml"], environ={"HOME": "/root"})
    model = validate_model(inline_file_sources(project.model, environ={}))
    return to_kubernetes(model, project=project.name, namespace=project.name.replace("_", "-"), labels=dict(LABELS),
                         allow_unsupported=options.get("allow_unsupported", False))


def test_there_are_fixtures():
    assert len(CASES) >= 4


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_case_translates_to_the_expected_objects(case):
    translation = _translate(case)
    objects = yaml.safe_dump_all(translation.objects, sort_keys=False)
    # A notice may name a local path (the build context): written relative to the case, as in any checkout.
    notices = json.dumps([n.model_dump() for n in translation.notices], indent=2).replace(str(case), "{case}") + "\n"
    expected = case / "expected"
    if UPDATE:
        expected.mkdir(exist_ok=True)
        (expected / "objects.yaml").write_text(objects)
        (expected / "notices.json").write_text(notices)
    assert (expected / "objects.yaml").read_text() == objects, "objects changed: regenerate with SPIN_UPDATE_FIXTURES=1 and review"
    assert (expected / "notices.json").read_text() == notices


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_case_validates_against_the_kubernetes_schema(case):
    assert [e for obj in _translate(case).objects for e in schema_errors(obj)] == []


def test_a_broken_object_is_caught_by_the_schema_check():
    # The check above must be able to fail: an unknown field and a wrong type are both reported.
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"clusterIP": "None", "ports": [{"port": "80"}], "bogus": 1}}
    assert schema_errors(bad)
