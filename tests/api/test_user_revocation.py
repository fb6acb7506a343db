"""User tokens can be revoked: `spin logout` (the caller's own) and `spin token revoke --user` (an admin, all of
a user's tokens issued up to now). The file store is the one a single machine uses; tests/cluster has the
Kubernetes store, shared by replicas."""

from __future__ import annotations

import json
import os
import subprocess
import time

from spin_gateway.audit.log import read_records
from tests.e2e.conftest import ROOT, SPIN


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_logout_revokes_that_token_only_and_is_audited(client, app, settings):
    first, claims = app.state.signer.issue("alice")
    second, _ = app.state.signer.issue("alice")
    r = client.post("/v1/logout", headers=_bearer(first))
    assert r.status_code == 200 and r.json() == {"token_id": claims.token_id, "user": "alice"}
    refused = client.get("/v1/whoami", headers=_bearer(first))
    assert refused.status_code == 401 and "logged out" in refused.json()["detail"]
    # Her other session (another token) is untouched.
    assert client.get("/v1/whoami", headers=_bearer(second)).status_code == 200
    kinds = [(r.get("type"), r.get("operation"), r.get("token_id")) for r in read_records(settings.audit_log)]
    assert ("token", "logout", claims.token_id) in kinds
    # The refusal of the revoked token is on the record too.
    assert any(r.get("type") == "refusal" and r.get("status") == 401 for r in read_records(settings.audit_log))


def test_an_admin_revokes_every_token_a_user_holds_and_a_new_login_works(client, app, token_for, settings):
    old_a, _ = app.state.signer.issue("alice")
    old_b, _ = app.state.signer.issue("alice")
    bobs, _ = app.state.signer.issue("bob")
    # Only an administrator may; the attempt is refused and audited.
    assert client.delete("/v1/users/alice/tokens", headers=_bearer(bobs)).status_code == 403
    r = client.delete("/v1/users/alice/tokens", headers=token_for("carol"))
    assert r.status_code == 200, r.text
    cutoff = r.json()["revoked_before"]
    assert r.json()["user"] == "alice" and abs(cutoff - time.time()) < 5
    for token in (old_a, old_b):
        refused = client.get("/v1/whoami", headers=_bearer(token))
        assert refused.status_code == 401 and "revoked by an administrator" in refused.json()["detail"]
    assert client.get("/v1/whoami", headers=_bearer(bobs)).status_code == 200  # another user: untouched
    # Tokens are revoked up to and including the second of the revocation; one issued after it works.
    while int(time.time()) <= cutoff:
        time.sleep(0.05)
    fresh, _ = app.state.signer.issue("alice")
    assert client.get("/v1/whoami", headers=_bearer(fresh)).status_code == 200
    record = next(r for r in read_records(settings.audit_log) if r.get("operation") == "revoke-user")
    assert record["target_user"] == "alice" and record["user"]["name"] == "carol" and record["revoked_before"] == cutoff


def test_a_service_token_cannot_log_out_and_its_revocation_stays_with_admins(client, token_for):
    created = client.post("/v1/tokens", json={"name": "p", "users": ["alice"]}, headers=token_for("carol")).json()
    r = client.post("/v1/logout", headers={**_bearer(created["token"]), "x-spin-user": "alice"})
    assert r.status_code == 403 and "service token" in r.json()["detail"]


def test_revocations_survive_a_restart_of_the_gateway(settings, app, client):
    from fastapi.testclient import TestClient

    from spin_gateway.gateway_api.app import build_app

    token, _ = app.state.signer.issue("alice")
    assert client.post("/v1/logout", headers=_bearer(token)).status_code == 200
    with TestClient(build_app(settings)) as again:
        assert again.get("/v1/whoami", headers=_bearer(token)).status_code == 401


def test_the_openapi_document_describes_logout_and_user_revocation(client):
    doc = client.get("/openapi.json").json()
    assert "post" in doc["paths"]["/v1/logout"]
    revoke = doc["paths"]["/v1/users/{user}/tokens"]["delete"]
    assert "403" in revoke["responses"] and "revoked_before" in json.dumps(doc["components"]["schemas"]["UserRevocation"])


def test_spin_logout_revokes_on_the_gateway_and_forgets_the_stored_token(tmp_path):
    """The CLI end to end against a real gateway process (manifests backend): the stored token is gone and the
    gateway refuses it if someone kept a copy."""
    from tests.e2e.conftest import LiveGateway

    live = LiveGateway(tmp_path, backend="manifests")
    try:
        token = live.token("alice")
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "SPIN_GATEWAY": live.url}
        env.pop("SPIN_TOKEN", None)
        (tmp_path / "cfg/spin").mkdir(parents=True)
        (tmp_path / "cfg/spin/config.json").write_text(json.dumps({"gateway": live.url, "token": token}))
        out = subprocess.run([*SPIN, "logout"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "revoked on the gateway" in out.stdout and "forgotten here" in out.stdout
        assert "token" not in json.loads((tmp_path / "cfg/spin/config.json").read_text())
        again = subprocess.run([*SPIN, "whoami"], cwd=ROOT, env={**env, "SPIN_TOKEN": token}, capture_output=True,
                               text=True, timeout=60)
        assert again.returncode != 0 and "logged out" in again.stderr + again.stdout
        admin = live.token("carol")
        revoke = subprocess.run([*SPIN, "token", "revoke", "--user", "bob"], cwd=ROOT,
                                env={**env, "SPIN_TOKEN": admin}, capture_output=True, text=True, timeout=60)
        assert revoke.returncode == 0 and "revoked every token of bob" in revoke.stdout, revoke.stderr
    finally:
        live.stop()
