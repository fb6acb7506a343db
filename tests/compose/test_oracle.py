"""The oracle is never skipped silently: without the binary the comparisons fail, unless SPIN_NO_ORACLE=1 says so."""

from __future__ import annotations

import pytest

from tests.compose import oracle


def test_the_binary_is_docker_compose_2_40_3():
    import subprocess

    out = subprocess.run([oracle.compose_binary(), "version"], capture_output=True, text=True, timeout=60).stdout
    assert "v2.40.3" in out


def test_a_missing_binary_fails_with_what_to_do(monkeypatch):
    monkeypatch.setattr(oracle.metadata, "files", lambda name: [])
    monkeypatch.delenv("SPIN_NO_ORACLE", raising=False)
    with pytest.raises(pytest.fail.Exception, match=r"scripts/install\.sh"):
        oracle.compose_binary()


def test_a_missing_binary_is_skipped_only_when_asked(monkeypatch):
    monkeypatch.setattr(oracle.metadata, "files", lambda name: [])
    monkeypatch.setenv("SPIN_NO_ORACLE", "1")
    with pytest.raises(pytest.skip.Exception):
        oracle.compose_binary()
