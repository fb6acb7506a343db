"""The records the gateway writes carry the fields docs/audit.md promises security officers, every type of them.

Each record is built in one place (audit/records.py); these tests drive the real gateway and read its log, so a
field dropped or renamed in the builder, or a doc table that drifts from it, fails here.
"""

from __future__ import annotations

import re

from spin_gateway.audit.log import read_records

WEB = {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "600"]}}}
ADDED_BY_THE_LOG = {"schema_version", "time", "record_id", "prev", "key_id", "mac"}


def _documented_decision_fields(repo_root) -> set[str]:
    text = (repo_root / "docs/audit.md").read_text()
    table = text.split("**`type: decision`**", 1)[1].split("\n\n", 2)[1]
    fields = set()
    for row in table.splitlines()[2:]:  # after the header and the |---| line
        fields |= set(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    return fields


def test_decision_and_forward_records_hold_what_the_docs_list(client, token_for, settings, repo_root):
    assert client.put("/v1/projects/demo", json={"compose": WEB}, headers=token_for("alice")).status_code == 200
    log = list(read_records(settings.audit_log))
    documented = _documented_decision_fields(repo_root)
    assert {"request_id", "user", "verb", "policy_revision"} <= documented  # the table was found
    decisions = [r for r in log if r["type"] == "decision"]
    assert decisions and all(set(r) == documented | {"type"} | ADDED_BY_THE_LOG for r in decisions)
    forwards = [r for r in log if r["type"] == "forward"]
    # "the same who/what fields plus backend, backend_result, backend_message, and error"
    extra = {"backend", "backend_result", "backend_message", "error"}
    who_what = documented - {"verb", "decision", "violations", "warnings", "patches", "policy_revision", "engine",
                             "decision_ms", "cached", "input_hash", "error"}
    assert forwards and all(set(r) == who_what | extra | {"type"} | ADDED_BY_THE_LOG for r in forwards)
    assert {r["request_id"] for r in forwards} == {r["request_id"] for r in decisions}
    assert all(r["user"] == {"name": "alice", "uid": 1001} and r["facility_project"] == "astro" for r in log)


def test_refusals_logins_and_tokens_are_recorded_as_their_types(client, token_for, settings):
    # a refused login (a wrong password for alice): the name, never the password
    assert client.post("/v1/login", json={"username": "alice", "password": "s3cret-guess"}).status_code == 401
    # an access refusal, then a service token created and revoked by an administrator
    assert client.get("/v1/tokens", headers=token_for("alice")).status_code == 403
    created = client.post("/v1/tokens", json={"name": "batch", "users": ["alice"]}, headers=token_for("carol"))
    token_id = created.json()["record"]["id"]
    assert client.delete(f"/v1/tokens/{token_id}", headers=token_for("carol")).status_code == 200
    log = list(read_records(settings.audit_log))
    assert "s3cret-guess" not in settings.audit_log.read_text()
    login, access, create, revoke = log
    assert (login["type"], login["user"], login["decision"], login["violations"][0]["rule"]) == \
        ("login", {"name": "alice", "typed": "alice", "uid": 1001}, "deny", "login")
    assert (access["type"], access["user"]["name"], access["operation"], access["violations"][0]["rule"]) == \
        ("access", "alice", "list service tokens", "access")
    assert access["token"]["kind"] == "user" and access["request_id"]
    assert (create["type"], create["operation"], create["token_id"], create["name"], create["user"]["name"]) == \
        ("token", "create", token_id, "batch", "carol")
    assert create["scope"]["users"] == ["alice"] and create["expires_at"] > 0
    assert (revoke["type"], revoke["operation"], revoke["token_id"], revoke["user"]["name"]) == \
        ("token", "revoke", token_id, "carol")
