"""Shared fixtures: the repository's paths and a real policy service on rego/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def policy_service():
    from spin_gateway.policy.service import PolicyService

    service = PolicyService(ROOT / "rego")
    yield service
    service.close()


# A real gateway app (manifests backend, embedded OPA, the example users) behind FastAPI's TestClient,
# for the API and policy suites.
@pytest.fixture
def settings(tmp_path, repo_root):
    from spin_gateway.gateway_api.settings import Settings

    return Settings(backend="manifests", manifests_dir=tmp_path / "manifests", users=repo_root / "examples/users.yaml",
                    policy_dir=repo_root / "rego", audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state",
                    policy_poll_seconds=0)


@pytest.fixture
def app(settings):
    from spin_gateway.gateway_api.app import build_app

    return build_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def token_for(app):
    def mint(user: str) -> dict[str, str]:
        token, _ = app.state.signer.issue(user)
        return {"authorization": f"Bearer {token}"}
    return mint


@pytest.fixture
def rego(tmp_path, repo_root):
    """A copy of the policy library a test may edit (reloads, broken files) without touching rego/."""
    target = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", target)
    return target
