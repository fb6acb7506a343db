"""Service tokens as a job prologue uses them: scoped, revocable, never a password."""

from __future__ import annotations

from spin_gateway.audit.log import read_records


def _create(client, token_for, **body):
    r = client.post("/v1/tokens", json={"name": "prologue", **body}, headers=token_for("carol"))
    assert r.status_code == 201, r.text
    return r.json()


def _as(token, user):
    return {"authorization": f"Bearer {token}", "x-spin-user": user}


def test_only_admins_create_tokens_and_the_attempt_is_audited(client, token_for, settings):
    r = client.post("/v1/tokens", json={"name": "x", "projects": ["astro"]}, headers=token_for("alice"))
    assert r.status_code == 403
    assert any(rec.get("type") == "access" and rec["user"]["name"] == "alice" for rec in read_records(settings.audit_log))


def test_a_service_token_acts_for_project_members_within_its_operations(client, token_for):
    created = _create(client, token_for, projects=["astro"], operations=["check", "read"])
    token = created["token"]
    assert client.get("/v1/whoami", headers=_as(token, "alice")).json()["name"] == "alice"
    assert client.get("/v1/whoami", headers=_as(token, "bob")).json()["token_kind"] == "service"
    # mallory is not in astro
    r = client.get("/v1/whoami", headers=_as(token, "mallory"))
    assert r.status_code == 403 and "may not act for mallory" in r.json()["detail"]
    # up is not among its operations
    body = {"compose": {"services": {"web": {"image": "localhost/spin/busybox:1.35"}}}}
    r = client.put("/v1/projects/job-1", json=body, headers=_as(token, "alice"))
    assert r.status_code == 403 and "may not up" in r.json()["detail"]
    # without naming a user it acts for nobody
    assert client.get("/v1/whoami", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_a_revoked_token_is_refused_at_once(client, token_for):
    created = _create(client, token_for, users=["alice"])
    assert client.get("/v1/whoami", headers=_as(created["token"], "alice")).status_code == 200
    assert client.delete(f"/v1/tokens/{created['record']['id']}", headers=token_for("carol")).status_code == 200
    r = client.get("/v1/whoami", headers=_as(created["token"], "alice"))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_the_token_list_never_holds_the_tokens(client, token_for, settings):
    created = _create(client, token_for, users=["alice"])
    listing = client.get("/v1/tokens", headers=token_for("carol"))
    assert listing.status_code == 200 and created["token"] not in listing.text
    assert created["token"] not in (settings.state_dir / "tokens.json").read_text()
    assert created["token"] not in settings.audit_log.read_text()


def test_an_expired_user_token_is_refused(client, app):
    token, _ = app.state.signer.issue("alice", ttl=-10)
    r = client.get("/v1/whoami", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_token_for_nobody_is_refused_as_invalid_input(client, token_for):
    r = client.post("/v1/tokens", json={"name": "nobody"}, headers=token_for("carol"))
    assert r.status_code == 422 and r.json()["error"] == "InvalidRequest"
    assert "at least one user or project" in r.json()["detail"]
    assert client.get("/v1/tokens", headers=token_for("carol")).json() == []


def test_a_token_limited_to_read_cannot_bring_projects_down(client, token_for):
    token = _create(client, token_for, users=["alice"], operations=["read"])["token"]
    r = client.delete("/v1/projects/job-1", headers=_as(token, "alice"))
    assert r.status_code == 403 and "may not down" in r.json()["detail"]


def test_filing_a_project_under_someone_elses_facility_project_is_refused_and_audited(client, token_for, settings):
    body = {"compose": {"services": {"web": {"image": "localhost/spin/busybox:1.35"}}}, "facility_project": "climate"}
    for method, path in (("PUT", "/v1/projects/demo"), ("POST", "/v1/projects/demo/check")):
        r = client.request(method, path, json=body, headers=token_for("alice"))
        assert r.status_code == 403 and "not a member of facility project 'climate'" in r.json()["detail"]
    denied = [rec for rec in read_records(settings.audit_log) if rec.get("type") == "access"]
    assert [(rec["user"]["name"], rec["operation"]) for rec in denied] == [("alice", "up"), ("alice", "check")]
    assert not (settings.manifests_dir / "demo").exists()


def test_only_admins_check_as_another_user_and_the_attempt_is_audited(client, token_for, settings):
    body = {"compose": {"services": {"web": {"image": "localhost/spin/busybox:1.35"}}}, "as_user": "bob"}
    r = client.post("/v1/projects/demo/check", json=body, headers=token_for("alice"))
    assert r.status_code == 403 and "only administrators" in r.json()["detail"]
    denied = [rec for rec in read_records(settings.audit_log) if rec.get("type") == "access"]
    assert [rec["user"]["name"] for rec in denied] == ["alice"]
