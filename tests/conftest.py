"""Shared fixtures: the repository's paths and a real policy service on rego/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def policy_service():
    from policy.service import PolicyService

    service = PolicyService(ROOT / "rego")
    yield service
    service.close()
