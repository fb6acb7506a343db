"""The audit log served in pages, newest first, so a long log is read in bounded answers."""

from __future__ import annotations


def _refused(client, token_for, n):
    for i in range(n):
        client.post("/v1/tokens", json={"name": f"t{i}", "users": ["alice"]}, headers=token_for("alice"))


def test_pages_walk_back_through_every_record_once(client, token_for):
    _refused(client, token_for, 7)
    admin = token_for("carol")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/audit", params=params, headers=admin).json()
        seen = page["items"] + seen
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = client.get("/v1/audit", headers=admin).json()
    assert pages == 3 and everything["next_cursor"] is None
    assert [r["record_id"] for r in seen] == [r["record_id"] for r in everything["items"]]


def test_a_cursor_from_elsewhere_is_404_not_the_newest_page(client, token_for):
    _refused(client, token_for, 2)
    r = client.get("/v1/audit", params={"cursor": "0" * 32}, headers=token_for("carol"))
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    # bob may not read alice's records, so her record ids are no cursor for him
    alice_first = client.get("/v1/audit", params={"limit": 1}, headers=token_for("alice")).json()["items"][0]
    r = client.get("/v1/audit", params={"cursor": alice_first["record_id"]}, headers=token_for("bob"))
    assert r.status_code == 404
