"""Text someone else chose never drives the reader's terminal (issue #20).

An unauthenticated login with ESC sequences, CR and LF in its user name was
recorded, and `spin audit` printed the raw bytes: a forged record line and a
changed terminal title on the security officer's screen.
"""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import redirect_stderr, redirect_stdout

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.cli.render import Renderer
from spin_gateway.vocabulary.errors import PolicyDenied
from tests.e2e.conftest import ROOT, SPIN

# A title change, a forged line after CR LF, a C1 CSI, a bidi override, a NUL and a NEL.
EVIL = "x\x1b]0;owned\x07\r\n2026-01-01T00:00:00+00:00  login    carol allow\x9b2J\u202egnp.exe\x00\x85"
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\x00", "\x85")


def _spin_audit(log) -> str:
    out = subprocess.run([*SPIN, "audit", "--log", str(log), "--limit", "1000"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_field_of_an_audit_record_is_escaped_in_human_output(tmp_path):
    log = tmp_path / "audit.log"
    audit = AuditLog(log)
    audit.write({"type": "decision" + EVIL, "user": {"name": "alice" + EVIL}, "project": "p" + EVIL,
                 "operation": "up" + EVIL, "object": {"kind": "Pod" + EVIL, "name": "n" + EVIL},
                 "decision": "deny" + EVIL, "violations": [{"rule": "r" + EVIL, "message": "m"}]})
    audit.close()
    # and a line edited by hand: the reader meets the time field (set by the writer) forged too
    with log.open("a") as fh:
        fh.write(json.dumps({"time": "2026" + EVIL, "type": "login", "backend_result": "ok" + EVIL,
                             "user": "not-an-object", "violations": ["not-an-object"]}) + "\n")
    shown = _spin_audit(log)
    assert not [c for c in RAW if c in shown], repr(shown)
    *lines, trailer = shown.splitlines()
    assert trailer == "2 record(s); no more match"
    assert len(lines) == 2, lines  # one line per record: the CR LF inside a field forged none
    # type, user, project, operation, kind, name, decision and rule: each shown, each escaped
    assert lines[0].count("\\x1b]0;owned\\x07\\r\\n") == 8
    assert "\\u202egnp.exe" in lines[0] and "\\x9b2J" in lines[0]
    assert lines[1].startswith("2026x\\x1b]0;owned")


def test_a_login_name_with_control_characters_is_refused_and_audited_escaped(client, settings, tmp_path):
    r = client.post("/v1/login", json={"username": "alice" + EVIL[:40], "password": "whatever"})
    assert r.status_code == 401
    assert "control characters" in r.json()["detail"] and "\x1b" not in r.text
    refused = [rec for rec in read_records(settings.audit_log) if rec.get("type") == "login"]
    assert len(refused) == 1 and refused[0]["decision"] == "deny"
    assert refused[0]["user"]["name"].startswith("alicex\\x1b]0;owned\\x07\\r\\n")
    assert not [c for c in RAW if c in refused[0]["user"]["name"]]
    assert not [c for c in RAW if c in _spin_audit(settings.audit_log)]


def test_a_service_token_naming_a_user_with_control_characters_is_refused_and_audited(client, token_for, settings):
    created = client.post("/v1/tokens", json={"name": "p", "projects": ["astro"]}, headers=token_for("carol")).json()
    r = client.get("/v1/whoami", headers={"authorization": f"Bearer {created['token']}",
                                          "x-spin-user": "alice\x1b]0;owned\x07"})
    assert r.status_code == 401 and "control characters" in r.json()["detail"]
    refused = [rec for rec in read_records(settings.audit_log) if rec.get("type") == "access"]
    assert refused and refused[-1]["user"]["name"] == "alice\\x1b]0;owned\\x07"
    assert refused[-1]["token"]["kind"] == "service"


def test_errors_tables_and_plans_are_escaped_too():
    out, err = io.StringIO(), io.StringIO()
    render = Renderer()
    with redirect_stdout(out), redirect_stderr(err):
        render.error(PolicyDenied("refused" + EVIL, hint="hint" + EVIL, decisions=[
            {"kind": "Pod" + EVIL, "name": "n", "violations": [{"rule": "r", "message": "m" + EVIL, "path": "/p"}]}]))
        render.services([{"service": "web" + EVIL, "ready": 1, "desired": 1, "state": "running" + EVIL,
                          "ports": ["80" + EVIL], "restarts": 0}])
        render.line("a log line from a container" + EVIL)
    for text in (out.getvalue(), err.getvalue()):
        assert not [c for c in RAW if c in text], repr(text)
    assert len(err.getvalue().splitlines()) == 3  # error, one denial, hint
    assert len(out.getvalue().splitlines()) == 3  # header, one service, one log line
