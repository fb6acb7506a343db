"""The audit log served by the gateway: admins read everyone's, others their own, filters and streaming."""

from __future__ import annotations

import json


def _provoke(client, token_for):
    # alice is refused (not an admin): an access record with rule "access"
    client.post("/v1/tokens", json={"name": "x", "users": ["alice"]}, headers=token_for("alice"))
    # carol creates a token: a token record
    client.post("/v1/tokens", json={"name": "y", "users": ["alice"]}, headers=token_for("carol"))


def test_admins_read_every_record_and_others_only_their_own(client, token_for):
    _provoke(client, token_for)
    everyone = client.get("/v1/audit", headers=token_for("carol")).json()["items"]
    assert {r["user"]["name"] for r in everyone} == {"alice", "carol"}
    own = client.get("/v1/audit", headers=token_for("alice")).json()["items"]
    assert own and {r["user"]["name"] for r in own} == {"alice"}
    # asking for someone outside one's facility projects is refused, with the reason, and the attempt recorded
    r = client.get("/v1/audit", params={"user": "carol"}, headers=token_for("alice"))
    assert r.status_code == 403 and "only administrators" in r.json()["detail"]
    mine = client.get("/v1/audit", params={"type": "access"}, headers=token_for("alice")).json()["items"]
    assert [rec["operation"] for rec in mine] == ["create service tokens", "read audit"]


def test_members_of_a_facility_project_read_its_records_and_nobody_else_does(client, token_for, app):
    # Decision records of alice's project in facility project astro, written by the gateway's own writer.
    for name, fproject in (("alice", "astro"), ("mallory", "climate")):
        app.state.gateway.audit.write({"type": "decision", "request_id": f"r-{name}", "user": {"name": name, "uid": 1},
                                       "project": f"{name}-demo", "facility_project": fproject, "decision": "allow"})
    seen = {u: {r["request_id"] for r in client.get("/v1/audit", params={"type": "decision"},
                                                    headers=token_for(u)).json()["items"]}
            for u in ("alice", "bob", "mallory", "carol")}
    assert seen == {"alice": {"r-alice"}, "bob": {"r-alice", "r-mallory"},  # bob is in astro and climate
                    "mallory": {"r-mallory"}, "carol": {"r-alice", "r-mallory"}}  # carol is an admin
    # bob shares astro with alice, so he may name her; mallory does not
    by_name = client.get("/v1/audit", params={"user": "alice", "type": "decision"}, headers=token_for("bob"))
    assert [r["request_id"] for r in by_name.json()["items"]] == ["r-alice"]
    assert client.get("/v1/audit", params={"user": "alice"}, headers=token_for("mallory")).status_code == 403


def test_filters_by_rule_and_type_and_time(client, token_for):
    _provoke(client, token_for)
    admin = token_for("carol")
    by_rule = client.get("/v1/audit", params={"rule": "access"}, headers=admin).json()["items"]
    assert [r["type"] for r in by_rule] == ["access"]
    tokens = client.get("/v1/audit", params={"type": "token"}, headers=admin).json()["items"]
    assert [r["operation"] for r in tokens] == ["create"]
    future = client.get("/v1/audit", params={"since": "2999-01-01T00:00:00+00:00"}, headers=admin).json()["items"]
    assert future == []


def test_stream_gives_one_json_record_per_line(client, token_for):
    _provoke(client, token_for)
    r = client.get("/v1/audit", params={"stream": "true"}, headers=token_for("carol"))
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == 2 and all("prev" in rec and "mac" in rec for rec in lines)
