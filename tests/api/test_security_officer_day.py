"""A security officer's first hour (issue 19), as they would meet it: `spin audit` with the times people type,
one request's records and what it submitted, the policy's live state, and reloads on the record.

The CLI runs against the real gateway app (manifests backend, embedded OPA, the example users) through
FastAPI's TestClient, so each answer is what `spin` prints for a live gateway.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.objects import REDACTED, ObjectStore
from spin_gateway.cli.client import GatewayClient
from spin_gateway.cli.main import app as cli_app
from spin_gateway.gateway_api.app import build_app
from spin_gateway.gateway_api.settings import Settings

SECRET = "hunter2-" + uuid.uuid4().hex[:8]


def _compose(name: str) -> dict:
    return {"name": name,
            "services": {"web": {"image": "localhost/spin/busybox:1.35", "command": ["sleep", "600"],
                                 "environment": {"DB_PASSWORD": SECRET, "MODE": "prod"},
                                 "secrets": [{"source": "db"}]}},
            "secrets": {"db": {"name": f"{name}_db", "content": SECRET}}}


@pytest.fixture
def gateway(tmp_path, repo_root, monkeypatch):
    rego = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", rego)
    settings = Settings(backend="manifests", manifests_dir=tmp_path / "manifests", users=repo_root / "examples/users.yaml",
                        policy_dir=rego, audit_log=tmp_path / "audit.log", state_dir=tmp_path / "state",
                        policy_poll_seconds=0)
    app = build_app(settings)
    with TestClient(app) as client:
        tokens = {u: {"authorization": f"Bearer {app.state.signer.issue(u)[0]}"} for u in ("alice", "mallory", "carol")}
        as_user = {"name": "carol"}

        class Via:
            """The CLI's HTTP client, answered by the app in-process (as whoever as_user names)."""

            def request(self, method, path, **kwargs):
                return client.request(method, path, headers=tokens[as_user["name"]], **kwargs)

        def fake_init(self, base_url, token, timeout=300):
            self.base_url, self._http = base_url, Via()

        monkeypatch.setattr(GatewayClient, "__init__", fake_init)
        monkeypatch.setenv("SPIN_GATEWAY", "http://gateway.test")
        yield client, tokens, settings, rego, as_user


def spin(*args: str):
    return CliRunner().invoke(cli_app, list(args))


def test_since_and_until_take_dates_local_times_and_durations(gateway):
    client, tokens, _settings, _rego, _as = gateway
    project = f"since-{uuid.uuid4().hex[:6]}"
    assert client.put(f"/v1/projects/{project}", json={"compose": _compose(project)},
                      headers=tokens["alice"]).status_code == 200
    today = datetime.now().astimezone().date().isoformat()
    # the command: a bare date answered "TypeError ... This is a bug in the gateway"
    for since in (today, f"{today}T00:00", "1h", "30m", "today", "2h30m", "7d"):
        result = spin("audit", "--project", project, "--since", since)
        assert result.exit_code == 0, (since, result.output)
        assert re.search(rf"decision\s+alice\s+{project}", result.output), (since, result.output)
    for until in ("yesterday", "1h", f"{today}T00:00"):
        result = spin("audit", "--project", project, "--until", until, "--json")
        assert result.exit_code == 0 and json.loads(result.stdout) == [], (until, result.output)
    # the API itself takes a time without a zone (read as the gateway's local time) instead of failing
    naive = (datetime.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
    answer = client.get("/v1/audit", params={"since": naive, "project": project}, headers=tokens["carol"])
    assert answer.status_code == 200 and answer.json()["items"]
    bad = spin("audit", "--since", "last tuesday")
    assert bad.exit_code == 2 and "is not a time" in bad.output and "30m" in bad.output


def test_more_results_are_announced_with_the_cursor_of_the_next_page(gateway):
    client, tokens, settings, _rego, _as = gateway
    project = f"pages-{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        assert client.put(f"/v1/projects/{project}", json={"compose": _compose(project)},
                          headers=tokens["alice"]).status_code == 200
    total = len([r for r in read_records(settings.audit_log) if r.get("project") == project])
    first = spin("audit", "--project", project, "--limit", "3")
    assert first.exit_code == 0
    marker = first.output.strip().splitlines()[-1]
    assert marker.startswith("more records match: these are the newest 3")
    cursor = re.search(r"--cursor ([0-9a-f]{32})", marker).group(1)
    seen, pages = 3, 1
    while cursor:
        page = spin("audit", "--project", project, "--limit", "3", "--cursor", cursor, "--json")
        assert page.exit_code == 0
        seen += len(json.loads(page.stdout))
        pages += 1
        found = re.search(r"--cursor ([0-9a-f]{32})", page.stderr)
        cursor = found.group(1) if found else None
    assert seen == total and pages == -(-total // 3)
    last = spin("audit", "--project", project, "--limit", str(total))
    assert last.output.strip().endswith(f"{total} record(s); no more match")


def test_one_request_shows_its_records_the_submitted_model_and_each_decided_object_without_secrets(gateway):
    client, tokens, settings, _rego, as_user = gateway
    project = f"show-{uuid.uuid4().hex[:6]}"
    up = client.put(f"/v1/projects/{project}", json={"compose": _compose(project)}, headers=tokens["alice"])
    assert up.status_code == 200, up.text
    request_id = up.json()["request_id"]
    mine = [r for r in read_records(settings.audit_log) if r.get("request_id") == request_id]
    digests = {r["model_digest"] for r in mine}
    assert len(digests) == 1 and None not in digests  # every record of the up, decisions and forwards
    assert {r["type"] for r in mine} == {"decision", "forward"}

    listed = spin("audit", "--request-id", request_id, "--json")
    assert [r["record_id"] for r in json.loads(listed.stdout)] == [r["record_id"] for r in mine]

    shown = spin("audit", "show", request_id, "--json")
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.stdout)
    assert answer["model"]["services"]["web"]["command"] == ["sleep", "600"]
    assert answer["model"]["services"]["web"]["environment"] == {"DB_PASSWORD": REDACTED, "MODE": REDACTED}
    kinds = {o["kind"]: o for o in answer["objects"]}
    deployment = kinds["Deployment"]["object"]
    # the object as decided: the policy's patches are in it
    assert deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert {o["digest"] for o in answer["objects"]} == {r["object"]["digest"] for r in mine if r["type"] == "decision"}
    # never a secret: not in the store, not in the log, not in what show prints
    store = settings.audit_log.parent / "audit.log.objects"
    kept = b"".join(p.read_bytes() for p in store.rglob("*.json"))
    assert SECRET.encode() not in kept and SECRET not in settings.audit_log.read_text() and SECRET not in shown.output
    assert kinds["Secret"]["object"]["data"] == {"content": REDACTED}
    text = spin("audit", "show", request_id, "--log", str(settings.audit_log))
    assert text.exit_code == 0 and "kind: Deployment" in text.output and f"# compose model {digests.pop()}" in text.output

    # mallory (climate) shares no project with alice (astro): her request is not hers to read
    as_user["name"] = "mallory"
    denied = spin("audit", "show", request_id)
    assert denied.exit_code != 0 and "no audit record of request" in denied.output
    assert client.get(f"/v1/audit/requests/{request_id}", headers=tokens["mallory"]).status_code == 404


def test_kept_objects_go_with_the_records_that_name_them(tmp_path):
    log_path = tmp_path / "audit.log"
    store = ObjectStore.beside(log_path)
    named, orphan = store.put({"kind": "ConfigMap", "data": {"a": "1"}}), store.put({"kind": "ConfigMap", "data": {"b": "2"}})
    log = AuditLog(log_path)
    log.write({"type": "decision", "request_id": "0" * 32, "object": {"kind": "ConfigMap", "name": "a", "digest": named}})
    log.close()
    result = spin("audit", "prune-objects", "--log", str(log_path))
    assert result.exit_code == 0 and "removed 1 object(s) no record names; 1 kept" in result.output
    assert store.get(named) == {"kind": "ConfigMap", "data": {"a": "1"}}
    with pytest.raises(Exception, match="no longer kept"):
        store.get(orphan)


def test_a_reload_is_on_the_record_and_status_says_what_serves_and_why_not_ready(gateway):
    client, tokens, settings, rego, _as = gateway
    before = spin("policy", "status", "--json")
    assert before.exit_code == 0
    live = json.loads(before.stdout)
    assert live["loaded_by"] == "start" and live["loaded_at"]
    assert client.get("/readyz").status_code == 200

    # a real change, reloaded on request by carol
    rule = rego / "registries" / "policy.rego"
    rule.write_text(rule.read_text() + "\n# reviewed 2026-12\n")
    assert client.post("/v1/policy/reload", headers=tokens["carol"]).status_code == 200
    status = spin("policy", "status")
    assert status.exit_code == 0 and "(request by carol)" in status.output
    [reload] = [r for r in read_records(settings.audit_log) if r.get("type") == "reload"]
    assert (reload["decision"], reload["trigger"], reload["user"]["name"]) == ("allow", "request", "carol")
    assert reload["old_revision"] == live["revision"] != reload["new_revision"]
    assert reload["policy_dir"] == str(rego)

    # a syntax error: the last good revision keeps deciding, readiness says why, status exits 1
    rule.write_text("package spin.rules.registries\ndeny contains v if {\n")
    assert client.post("/v1/policy/reload", headers=tokens["carol"]).status_code == 500
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready" and "registries/policy.rego" in ready.json()["checks"]["policy_reload"]
    assert client.get("/healthz").status_code == 200  # alive: nothing to restart
    refused = spin("policy", "status")
    assert refused.exit_code == 1
    assert f"revision {reload['new_revision']} serving" in refused.output and "refused candidate" in refused.output
    record = [r for r in read_records(settings.audit_log) if r.get("type") == "reload"][-1]
    assert (record["decision"], record["user"]["name"], record["old_revision"]) == ("deny", "carol", reload["new_revision"])
    listed = spin("audit", "--type", "reload", "--since", "1h", "--json")
    assert [r["decision"] for r in json.loads(listed.stdout)] == ["allow", "deny"]


def test_naive_bounds_are_local_time(monkeypatch):
    import time as _time

    from spin_gateway.audit.query import AuditFilter, parse_when

    monkeypatch.setenv("TZ", "America/Denver")
    _time.tzset()
    try:
        when = parse_when("2026-12-02T14:00")
        assert when.utcoffset() == timedelta(hours=-7) and when.astimezone(UTC).hour == 21
        assert parse_when("2026-12-02").astimezone(UTC).isoformat() == "2026-12-02T07:00:00+00:00"
        now = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)  # 18:30 on the 7th in Denver
        assert parse_when("today", now).isoformat() == "2026-12-07T00:00:00-07:00"
        assert parse_when("yesterday", now).isoformat() == "2026-12-06T00:00:00-07:00"
        assert parse_when("90m", now) == now - timedelta(minutes=90)
        flt = AuditFilter(since=datetime(2026, 12, 2, 14, 0))  # naive, as typer or FastAPI parse it
        assert flt.matches({"time": "2026-12-02T21:00:01+00:00"}) and not flt.matches({"time": "2026-12-02T20:59:59+00:00"})
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()
