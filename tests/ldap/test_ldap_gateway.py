"""The gateway with LDAP as its identity source: login, tokens, admins from the site data, 503 and recovery."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from spin_gateway.audit.log import read_records
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings
from tests.ldap.slapd import demo_password


@pytest.fixture
def make_client(tmp_path, repo_root, ldap_config):
    clients = []

    def make(urls: list[str] | None = None, **overrides) -> tuple[TestClient, Settings]:
        settings = Settings(identity="ldap", identity_config=ldap_config(urls, **overrides), backend="manifests",
                            manifests_dir=tmp_path / "manifests", policy_dir=repo_root / "rego",
                            audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state", policy_poll_seconds=0)
        client = TestClient(build_app(settings))
        client.__enter__()
        clients.append(client)
        return client, settings

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _login(client, user, password):
    return client.post("/v1/login", json={"username": user, "password": password})


def _bearer(answer) -> dict[str, str]:
    return {"authorization": f"Bearer {answer.json()['token']}"}


def test_login_returns_a_token_that_names_the_ldap_identity(make_client):
    client, _ = make_client()
    answer = _login(client, "bob", demo_password("bob"))
    assert answer.status_code == 200, answer.text
    me = client.get("/v1/whoami", headers=_bearer(answer)).json()
    assert (me["name"], me["uid"], me["gid"], me["projects"], me["admin"]) == ("bob", 1002, 1002, ["astro", "climate"], False)


def test_a_wrong_or_empty_password_is_refused_with_the_error_body(make_client):
    client, settings = make_client()
    wrong = _login(client, "alice", "guess-1234")
    assert wrong.status_code == 401 and wrong.json()["error"] == "AuthError" and wrong.json()["hint"]
    assert "guess-1234" not in wrong.text
    empty = _login(client, "alice", "")
    assert empty.status_code == 422 and set(empty.json()) >= {"error", "detail", "hint"}
    assert not settings.audit_log.exists() or "guess-1234" not in settings.audit_log.read_text()


def test_the_admin_group_comes_from_the_site_data(make_client):
    client, settings = make_client()
    carol, alice = _login(client, "carol", demo_password("carol")), _login(client, "alice", demo_password("alice"))
    assert client.get("/v1/whoami", headers=_bearer(carol)).json()["admin"] is True
    created = client.post("/v1/tokens", json={"name": "prologue", "projects": ["astro"]}, headers=_bearer(carol))
    assert created.status_code == 201, created.text
    refused = client.post("/v1/tokens", json={"name": "mine", "users": ["alice"]}, headers=_bearer(alice))
    assert refused.status_code == 403 and "administrators" in refused.json()["detail"]
    denied = [r for r in read_records(settings.audit_log) if r.get("type") == "access"]
    assert [r["user"]["name"] for r in denied] == ["alice"]
    # admins read everyone's audit records, alice only her own
    assert {r["user"]["name"] for r in client.get("/v1/audit", headers=_bearer(carol)).json()["items"]} == {"alice", "carol"}
    assert {r["user"]["name"] for r in client.get("/v1/audit", headers=_bearer(alice)).json()["items"]} == {"alice"}


def test_a_service_token_acts_only_for_ldap_members_of_its_projects(make_client):
    client, _ = make_client()
    carol = _bearer(_login(client, "carol", demo_password("carol")))
    token = client.post("/v1/tokens", json={"name": "prologue", "projects": ["astro"]}, headers=carol).json()["token"]
    as_bob = client.get("/v1/whoami", headers={"authorization": f"Bearer {token}", "x-spin-user": "bob"})
    assert as_bob.status_code == 200 and as_bob.json()["token_kind"] == "service" and as_bob.json()["uid"] == 1002
    as_mallory = client.get("/v1/whoami", headers={"authorization": f"Bearer {token}", "x-spin-user": "mallory"})
    assert as_mallory.status_code == 403 and "mallory" in as_mallory.json()["detail"]
    nobody = client.get("/v1/whoami", headers={"authorization": f"Bearer {token}", "x-spin-user": "nobody"})
    assert nobody.status_code == 401 and "no user the facility knows" in nobody.json()["detail"]


def test_ldap_down_is_503_with_a_hint_and_the_gateway_recovers(own_slapd, make_client):
    client, _ = make_client([own_slapd.url])
    alice = _bearer(_login(client, "alice", demo_password("alice")))
    own_slapd.stop()
    for answer in (_login(client, "alice", demo_password("alice")), client.get("/v1/whoami", headers=alice)):
        assert answer.status_code == 503
        body = answer.json()
        assert body["error"] == "IdentityUnavailable" and "try again" in body["hint"]
        assert demo_password("alice") not in answer.text
    own_slapd.start()
    assert _login(client, "alice", demo_password("alice")).status_code == 200
    assert client.get("/v1/whoami", headers=alice).json()["name"] == "alice"


def test_logins_are_audited_refused_ones_too_without_the_password(make_client):
    client, settings = make_client()
    _login(client, "alice", "guess-5678")
    _login(client, "nobody", "guess-9999")
    ok = _login(client, "alice", demo_password("alice"))
    records = [r for r in read_records(settings.audit_log) if r.get("type") == "login"]
    assert [(r["user"]["name"], r["decision"]) for r in records] == [("alice", "deny"), ("nobody", "deny"), ("alice", "allow")]
    assert records[-1]["token"]["id"] == ok.json()["token_id"]
    text = settings.audit_log.read_text()
    for secret in ("guess-5678", "guess-9999", demo_password("alice"), ok.json()["token"]):
        assert secret not in text
    # alice reads her own login records, failed ones included
    mine = client.get("/v1/audit", params={"type": "login"}, headers=_bearer(ok)).json()["items"]
    assert [r["decision"] for r in mine] == ["deny", "allow"]


def test_a_user_removed_from_the_directory_loses_their_token(own_slapd, make_client):
    from ldap3 import Connection

    client, _ = make_client([own_slapd.url])
    mallory = _bearer(_login(client, "mallory", demo_password("mallory")))
    assert client.get("/v1/whoami", headers=mallory).status_code == 200
    with Connection(own_slapd.url, own_slapd.root_dn, own_slapd.root_password, auto_bind=True) as conn:
        assert conn.delete("uid=mallory,ou=people,dc=spin,dc=example"), conn.result
    gone = client.get("/v1/whoami", headers=mallory)
    assert gone.status_code == 401 and "no longer known" in gone.json()["detail"]


@pytest.mark.parametrize("password", ["alice\x00-demo-pw", "bell\x07", "\x00"], ids=["nul-inside", "bel", "nul-only"])
def test_a_password_ldap_cannot_take_is_a_401_and_audited_not_a_503(make_client, password):
    # SASLprep (RFC 4013) refuses control characters before the bind: that is the caller's input, not an outage.
    client, settings = make_client()
    answer = _login(client, "alice", password)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "AuthError" and answer.json()["detail"] == "wrong user name or password"
    assert password not in answer.text
    records = [r for r in read_records(settings.audit_log) if r.get("type") == "login"]
    assert [(r["user"]["name"], r["user"]["typed"], r["decision"]) for r in records] == [("alice", "alice", "deny")]
    assert password not in settings.audit_log.read_text()
    assert _login(client, "alice", demo_password("alice")).status_code == 200


def test_a_refused_login_records_the_name_as_typed_and_the_name_ldap_resolved(make_client):
    # uid matching is case-insensitive in LDAP: "ALICE" finds uid=alice,ou=people. Both names go on the record,
    # under the canonical one, so alice (and `spin audit --user alice`) sees the guessing at her account.
    client, settings = make_client()
    assert _login(client, "ALICE", "guess-4321").status_code == 401
    assert _login(client, "Nobody", "guess-4321").status_code == 401
    records = [r for r in read_records(settings.audit_log) if r.get("type") == "login"]
    assert [(r["user"]["name"], r["user"]["typed"], r["user"].get("uid")) for r in records] == [
        ("alice", "ALICE", 1001), ("Nobody", "Nobody", None)]
    alice = _bearer(_login(client, "alice", demo_password("alice")))
    mine = client.get("/v1/audit", params={"type": "login"}, headers=alice).json()["items"]
    assert [(r["user"]["typed"], r["decision"]) for r in mine] == [("ALICE", "deny"), ("alice", "allow")]
