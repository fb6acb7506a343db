"""Service-token scopes constrain resources, as an attacker tests them (issue #20).

Two facility projects, astro and climate; bob is in both, alice only in astro,
mallory only in climate, carol is an administrator. A token scoped to astro,
acting for bob, once read and took down a climate project; a token allowed to
act for carol had every administrator power but token creation and reload.
"""

from __future__ import annotations

import pytest

from spin_gateway.audit.log import read_records

WEB = {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["httpd", "-f", "-p", "8080"]}}}


def _as(token: str, user: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "x-spin-user": user}


def _token(client, token_for, **scope) -> str:
    r = client.post("/v1/tokens", json={"name": "prologue", **scope}, headers=token_for("carol"))
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture
def projects(client, token_for):
    """astro-web (alice, astro), climate-web (mallory, climate), and bob-climate (bob's own, filed under climate)."""
    for name, user, fp in (("astro-web", "alice", "astro"), ("climate-web", "mallory", "climate"),
                           ("bob-climate", "bob", "climate")):
        r = client.put(f"/v1/projects/{name}", json={"compose": WEB, "facility_project": fp}, headers=token_for(user))
        assert r.status_code == 200, r.text


def _access_denials(settings) -> list[dict]:
    return [r for r in read_records(settings.audit_log) if r.get("type") == "access" and r.get("decision") == "deny"]


def test_a_token_scoped_to_astro_acting_for_a_member_of_both_reaches_no_climate_project(client, token_for, settings,
                                                                                         projects):
    bob = _as(_token(client, token_for, projects=["astro"]), "bob")
    before = len(_access_denials(settings))
    for target in ("climate-web", "bob-climate"):  # another's, and bob's own: neither is astro's
        attempts = {
            "status": client.get(f"/v1/projects/{target}", headers=bob),
            "logs": client.get(f"/v1/projects/{target}/logs", headers=bob),
            "up": client.put(f"/v1/projects/{target}", json={"compose": WEB}, headers=bob),
            "check": client.post(f"/v1/projects/{target}/check", json={"compose": WEB}, headers=bob),
            "down": client.delete(f"/v1/projects/{target}", headers=bob),
        }
        for verb, r in attempts.items():
            assert r.status_code == 403, (target, verb, r.text)
            assert "reaches only projects of astro" in r.json()["detail"], (target, verb, r.text)
        assert (settings.manifests_dir / target).is_dir(), f"{target} was taken down"
    # filing a new project under climate, for real or as a dry run, or deciding objects as climate
    for r in (client.put("/v1/projects/new-one", json={"compose": WEB, "facility_project": "climate"}, headers=bob),
              client.post("/v1/projects/new-one/check", json={"compose": WEB, "facility_project": "climate"},
                          headers=bob),
              client.post("/v1/policy/eval", json={"objects": [{"apiVersion": "v1", "kind": "ConfigMap",
                                                                "metadata": {"name": "x"}}],
                                                   "facility_project": "climate"}, headers=bob)):
        assert r.status_code == 403, r.text
    assert not (settings.manifests_dir / "new-one").exists()
    # the list shows astro's projects only; the audit reader shows no climate record
    listed = {p["project"] for p in client.get("/v1/projects", headers=bob).json()["items"]}
    assert listed == {"astro-web"}
    audit = client.get("/v1/audit", headers=bob, params={"limit": 10000}).json()["items"]
    assert audit and all(r.get("facility_project") in (None, "astro") for r in audit)
    assert not [r for r in audit if r.get("project") in ("climate-web", "bob-climate")]
    # within its scope it works
    assert client.get("/v1/projects/astro-web", headers=bob).status_code == 200
    assert client.post("/v1/projects/astro-web/check", json={"compose": WEB}, headers=bob).status_code == 200
    # every refusal is on the record, naming the token and the user it acted for
    denials = _access_denials(settings)[before:]
    assert len(denials) == 13
    assert all(d["token"]["kind"] == "service" and d["user"]["name"] == "bob" for d in denials)


def test_a_token_acting_for_an_administrator_is_no_administrator(client, token_for, settings, projects):
    carol = _as(_token(client, token_for, users=["carol"]), "carol")
    me = client.get("/v1/whoami", headers=carol).json()
    assert me["admin"] is False and "spin-admins" not in {g["name"] for g in me["groups"]}
    for r in (client.get("/v1/projects/climate-web", headers=carol),
              client.get("/v1/projects/astro-web/logs", headers=carol),
              client.delete("/v1/projects/climate-web", headers=carol),
              client.post("/v1/projects/x/check", json={"compose": WEB, "as_user": "bob"}, headers=carol),
              client.put("/v1/projects/x", json={"compose": WEB, "facility_project": "climate"}, headers=carol),
              client.get("/v1/audit", headers=carol, params={"user": "mallory"}),
              client.get("/v1/tokens", headers=carol),
              client.post("/v1/policy/reload", headers=carol)):
        assert r.status_code == 403, r.text
    assert client.get("/v1/projects", headers=carol).json()["items"] == []
    # whatever it reads of the audit log is carol's own
    assert {r["user"]["name"] for r in client.get("/v1/audit", headers=carol).json()["items"]} <= {"carol"}
    assert (settings.manifests_dir / "climate-web").is_dir()


def test_the_admin_power_is_granted_by_name_only(client, token_for, settings, projects):
    carol = _as(_token(client, token_for, users=["carol"], powers=["admin"]), "carol")
    assert client.get("/v1/whoami", headers=carol).json()["admin"] is True
    assert client.get("/v1/projects/climate-web", headers=carol).status_code == 200
    assert {p["project"] for p in client.get("/v1/projects", headers=carol).json()["items"]} == {
        "astro-web", "climate-web", "bob-climate"}
    # never the token and reload powers
    assert client.get("/v1/tokens", headers=carol).status_code == 403
    assert client.post("/v1/policy/reload", headers=carol).status_code == 403
    # a power that has no name is refused as invalid input
    r = client.post("/v1/tokens", json={"name": "x", "users": ["carol"], "powers": ["root"]},
                    headers=token_for("carol"))
    assert r.status_code == 422


def test_a_scope_by_project_also_limits_an_administrator_granted_the_admin_power(client, token_for, projects):
    # acting for bob (in astro) with the admin power is still astro-only: the resource scope wins
    token = _token(client, token_for, projects=["astro"], powers=["admin"])
    r = client.get("/v1/projects/climate-web", headers=_as(token, "bob"))
    assert r.status_code == 403 and "reaches only projects of astro" in r.json()["detail"]
