"""A real gateway app (manifests backend, embedded OPA, the example users) behind FastAPI's TestClient."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway_api.app import build_app
from gateway_api.settings import Settings


@pytest.fixture
def settings(tmp_path, repo_root):
    return Settings(backend="manifests", manifests_dir=tmp_path / "manifests", users=repo_root / "examples/users.yaml",
                    policy_dir=repo_root / "rego", audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state",
                    policy_poll_seconds=0)


@pytest.fixture
def app(settings):
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
