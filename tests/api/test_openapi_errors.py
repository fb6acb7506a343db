"""The OpenAPI document promises what the gateway sends: one error body, also for invalid input."""

from __future__ import annotations


def test_every_invalid_input_answer_is_documented_as_the_error_body(client):
    doc = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if op.get("parameters") or op.get("requestBody"):
                schema = op["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_invalid_input_gets_the_error_body_it_is_documented_with(client, token_for):
    answers = [
        client.get("/v1/projects", params={"limit": 0}, headers=token_for("alice")),
        client.delete("/v1/projects/demo", params={"volumes": "maybe"}, headers=token_for("alice")),
        client.post("/v1/login", json={}),
    ]
    for r in answers:
        assert r.status_code == 422 and set(r.json()) >= {"error", "detail", "hint"}, r.text
    broken = client.post("/v1/login", content=b"\xff", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and set(broken.json()) >= {"error", "detail", "hint"}
    assert "400" in client.get("/openapi.json").json()["paths"]["/v1/login"]["post"]["responses"]
