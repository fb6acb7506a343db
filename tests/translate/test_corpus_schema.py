"""Every object `spin convert` makes of the real-world corpus validates against Kubernetes' schema.

The corpus samples reference files that are not in it (secret files) and many build their images. Here
they are given what a user would give before `spin up`: an image for each build-only service (as if
built and pushed) and the secret's content (as the CLI reads it). Keys with no Kubernetes form are let
through with allow_unsupported, so the rest of each sample is still checked.
"""

from __future__ import annotations

import pytest

from spin_gateway.cli.file_sources import inline_file_sources
from spin_gateway.compose_loader import load_project, validate_model
from spin_gateway.gateway_api import planning
from spin_gateway.translate import to_kubernetes
from spin_gateway.vocabulary.errors import ComposeError
from tests.compose.test_corpus import SAMPLES, _file
from tests.translate.helpers import LABELS
from tests.translate.schema import schema_errors


def _as_a_user_would_send_it(sample, model):
    for name, svc in model["services"].items():
        if not svc.get("image"):
            svc["image"] = f"registry.example.org/{sample.name.lower()}/{name.lower()}:1.0"
    for what in ("secrets", "configs"):
        for spec in (model.get(what) or {}).values():
            if spec.get("file") and spec.get("content") is None:
                spec["content"] = "placeholder read by the CLI"
    return inline_file_sources(model, environ={})


def test_the_corpus_is_there():
    assert len(SAMPLES) >= 30


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_object_of_the_sample_validates_against_the_kubernetes_schema(sample):
    try:
        project = load_project([_file(sample)], environ={"HOME": "/root"})
    except ComposeError:
        pytest.skip("the loader refuses this sample, as Docker Compose does (see tests/compose)")
    model = validate_model(_as_a_user_would_send_it(sample, project.model))
    translation = to_kubernetes(model, project=project.name, namespace=planning.namespace_for(project.name),
                                labels=dict(LABELS), allow_unsupported=True)
    objects = [planning.namespace_object(planning.namespace_for(project.name), LABELS), *translation.objects]
    assert sum(o["kind"] in ("Deployment", "Job") for o in objects) == len(model["services"])
    errors = [e for obj in objects for e in schema_errors(obj)]
    assert errors == []
