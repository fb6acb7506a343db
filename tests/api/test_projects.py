"""The REST API as a facility integrator sees it: auth, idempotent up, refusals with reasons, one error body."""

from __future__ import annotations

from spin_gateway.audit.log import read_records


def compose(**service):
    web = {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"], **service}
    return {"name": "demo", "services": {"web": web}}


def test_requests_without_a_valid_token_are_401_with_the_error_body(client):
    for headers in ({}, {"authorization": "Bearer not-a-token"}, {"authorization": "Basic abc"}):
        r = client.put("/v1/projects/demo", json={"compose": compose()}, headers=headers)
        assert r.status_code == 401
        assert set(r.json()) >= {"error", "detail", "hint"}
        assert "not-a-token" not in r.text


def test_up_is_idempotent(client, token_for, settings):
    alice = token_for("alice")
    first = client.put("/v1/projects/demo", json={"compose": compose()}, headers=alice)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "created"
    assert (settings.manifests_dir / "demo").is_dir()
    second = client.put("/v1/projects/demo", json={"compose": compose()}, headers=alice)
    assert second.status_code == 200
    assert second.json()["status"] == "unchanged"
    third = client.put("/v1/projects/demo", json={"compose": compose(environment={"A": "1"})}, headers=alice)
    assert third.json()["status"] == "configured"


def test_a_privileged_service_is_refused_naming_the_rule(client, token_for, settings):
    r = client.put("/v1/projects/demo", json={"compose": compose(privileged=True)}, headers=token_for("alice"))
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "PolicyDenied"
    assert "no-privileged" in body["detail"]
    rules = [v["rule"] for d in body["data"]["decisions"] for v in d["violations"]]
    assert rules == ["no-privileged"]
    assert not (settings.manifests_dir / "demo").exists()


def test_check_reports_decisions_and_changes_nothing(client, token_for, settings):
    r = client.post("/v1/projects/demo/check", json={"compose": compose(privileged=True)}, headers=token_for("alice"))
    assert r.status_code == 200
    assert r.json()["allowed"] is False and r.json()["forwarded"] is False
    assert not (settings.manifests_dir / "demo").exists()


def test_another_facility_project_cannot_touch_the_project_and_the_attempt_is_audited(client, token_for, settings):
    assert client.put("/v1/projects/demo", json={"compose": compose()}, headers=token_for("alice")).status_code == 200
    # mallory is in climate, not astro
    r = client.delete("/v1/projects/demo", headers=token_for("mallory"))
    assert r.status_code == 403 and "astro" in r.json()["detail"]
    r = client.put("/v1/projects/demo", json={"compose": compose()}, headers=token_for("mallory"))
    assert r.status_code == 403
    assert (settings.manifests_dir / "demo").is_dir()
    denied = [rec for rec in read_records(settings.audit_log) if rec.get("type") == "access"]
    assert {rec["user"]["name"] for rec in denied} == {"mallory"}
    # bob shares astro with alice and may act on it
    assert client.get("/v1/projects/demo", headers=token_for("bob")).status_code == 200


def test_down_removes_the_project(client, token_for, settings):
    alice = token_for("alice")
    client.put("/v1/projects/demo", json={"compose": compose()}, headers=alice)
    r = client.delete("/v1/projects/demo", headers=alice)
    assert r.status_code == 200 and r.json()["status"] == "removed"
    assert client.get("/v1/projects/demo", headers=alice).status_code == 404


def test_invalid_project_names_are_rejected_before_anything_happens(client, token_for, settings):
    for name in ("Demo", "-x", "a" * 70, "..", "a.b"):
        r = client.put(f"/v1/projects/{name}", json={"compose": compose()}, headers=token_for("alice"))
        assert r.status_code in (404, 422), (name, r.status_code)
        assert set(r.json()) >= {"error", "detail", "hint"}
    assert not settings.manifests_dir.exists() or not any(settings.manifests_dir.iterdir())


def test_openapi_documents_every_route_with_the_error_body(client):
    doc = client.get("/openapi.json").json()
    assert "ErrorBody" in doc["components"]["schemas"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            # The admission routes' caller is the cluster's API server, which sends no token.
            if path.startswith("/v1/") and not path.startswith("/v1/admission/"):
                assert "401" in op["responses"], (method, path)
