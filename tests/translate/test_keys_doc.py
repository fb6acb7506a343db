"""docs/compose-keys.md is the translator's own table, regenerated: a stale copy fails here."""

from __future__ import annotations

from spin_gateway.translate.key_table import SERVICE_KEYS, TOP_LEVEL_KEYS
from spin_gateway.translate.keys_doc import DOC, render


def test_the_committed_keys_table_is_the_one_the_code_generates():
    assert DOC.read_text() == render(), "docs/compose-keys.md is stale: run python -m spin_gateway.translate.keys_doc"


def test_the_table_has_a_row_for_every_key():
    text = render()
    for key in [*SERVICE_KEYS, *TOP_LEVEL_KEYS]:
        assert f"| `{key}` |" in text
