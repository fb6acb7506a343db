"""Who may act on what: members on their projects, admins as others in dry runs, every refusal audited."""

from __future__ import annotations

from spin_gateway.audit.log import read_records

WEB = {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]}}}


def test_an_admin_checks_as_another_user_and_the_decision_is_that_users(client, token_for, settings):
    r = client.post("/v1/projects/demo/check", json={"compose": WEB, "as_user": "bob"}, headers=token_for("carol"))
    assert r.status_code == 200, r.text
    assert r.json()["facility_project"] == "astro"  # bob's, not carol's
    decisions = [rec for rec in read_records(settings.audit_log) if rec.get("type") == "decision"]
    assert decisions and all(rec["user"]["name"] == "bob" for rec in decisions)
    assert not (settings.manifests_dir / "demo").exists()


def test_members_list_only_projects_of_their_facility_projects(client, token_for):
    assert client.put("/v1/projects/astro-web", json={"compose": WEB}, headers=token_for("alice")).status_code == 200
    assert client.put("/v1/projects/climate-web", json={"compose": WEB}, headers=token_for("mallory")).status_code == 200
    def names(user):
        return {p["project"] for p in client.get("/v1/projects", headers=token_for(user)).json()["items"]}

    assert names("alice") == {"astro-web"}
    assert names("mallory") == {"climate-web"}
    assert names("bob") == {"astro-web", "climate-web"}  # in both
    assert names("carol") == {"astro-web", "climate-web"}  # admin


def test_reading_or_removing_another_projects_services_is_refused_and_audited(client, token_for, settings):
    assert client.put("/v1/projects/astro-web", json={"compose": WEB}, headers=token_for("alice")).status_code == 200
    mallory = token_for("mallory")
    for r in (client.get("/v1/projects/astro-web", headers=mallory),
              client.get("/v1/projects/astro-web/logs", headers=mallory),
              client.delete("/v1/projects/astro-web", headers=mallory)):
        assert r.status_code == 403 and "not a member" in r.json()["detail"] and r.json()["hint"]
    denied = [(rec["user"]["name"], rec["operation"]) for rec in read_records(settings.audit_log)
              if rec.get("type") == "access"]
    assert denied == [("mallory", "status"), ("mallory", "logs"), ("mallory", "down")]
    assert (settings.manifests_dir / "astro-web").is_dir()


def test_the_project_list_comes_in_pages(client, token_for):
    alice = token_for("alice")
    for name in ("p-a", "p-b", "p-c"):
        assert client.put(f"/v1/projects/{name}", json={"compose": WEB}, headers=alice).status_code == 200
    first = client.get("/v1/projects", params={"limit": 2}, headers=alice).json()
    assert [p["project"] for p in first["items"]] == ["p-a", "p-b"] and first["next_cursor"] == "p-b"
    rest = client.get("/v1/projects", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice).json()
    assert [p["project"] for p in rest["items"]] == ["p-c"] and rest["next_cursor"] is None


def test_a_projects_status_comes_in_pages_of_services(client, token_for):
    alice = token_for("alice")
    services = {name: {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "3600"]} for name in ("a", "b", "c")}
    assert client.put("/v1/projects/three", json={"compose": {"name": "three", "services": services}},
                      headers=alice).status_code == 200
    first = client.get("/v1/projects/three", params={"limit": 2}, headers=alice).json()
    assert [s["service"] for s in first["services"]] == ["a", "b"] and first["next_cursor"] == "b"
    rest = client.get("/v1/projects/three", params={"limit": 2, "cursor": "b"}, headers=alice).json()
    assert [s["service"] for s in rest["services"]] == ["c"] and rest["next_cursor"] is None
