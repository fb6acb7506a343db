"""The API's side of translation: an unsupported key is a 422 naming it; allow_unsupported turns it into notices."""

from __future__ import annotations

from spin_gateway.audit.log import read_records


def _compose(**service):
    return {"name": "demo", "services": {"web": {"image": "localhost/spin/busybox:1.35", **service}}}


def test_an_unsupported_key_is_refused_with_422_naming_it_and_nothing_is_decided(client, token_for, settings):
    r = client.post("/v1/projects/demo/check", json={"compose": _compose(init=True)}, headers=token_for("alice"))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "TranslateError"
    assert "services.web.init" in body["detail"] and "allow-unsupported" in body["hint"]
    assert body["data"]["unsupported"][0]["path"] == "services.web.init"
    records = list(read_records(settings.audit_log)) if settings.audit_log.exists() else []
    assert not any(rec.get("type") == "decision" for rec in records)


def test_allow_unsupported_checks_the_rest_and_reports_what_was_left_out(client, token_for):
    r = client.post("/v1/projects/demo/check", json={"compose": _compose(init=True), "allow_unsupported": True},
                    headers=token_for("alice"))
    assert r.status_code == 200, r.text
    assert [n["path"] for n in r.json()["notices"]] == ["services.web.init"]
    converted = client.post("/v1/projects/demo/convert", json={"compose": _compose(init=True), "allow_unsupported": True},
                            headers=token_for("alice"))
    assert converted.status_code == 200
    assert [o["kind"] for o in converted.json()["objects"]][:2] == ["Namespace", "Deployment"]
