"""Issue 13 through the API: kinds nobody decides, expansion bombs, malformed bodies on the eval route,
every refusal on the record, and the audit's source (classes 7, 8 and 9)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from spin_gateway.audit.log import read_records


def _records(settings, kind):
    return [r for r in read_records(settings.audit_log) if r.get("type") == kind] if settings.audit_log.exists() else []


def _eval(client, headers, *objects):
    return client.post("/v1/policy/eval", json={"objects": list(objects)}, headers=headers)


def _container(**sc):
    return {"name": "c", "image": "localhost/spin/busybox:1.35", **({"securityContext": sc} if sc else {})}


# -- class 8 -------------------------------------------------------------------------------------

def test_class8_every_pod_carrying_kind_is_a_workload_and_unknown_kinds_are_refused(client, token_for):
    alice = token_for("alice")
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
          "spec": {"template": {"spec": {"containers": [_container(privileged=True)]}}}}
    pt = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "pt"},
          "template": {"spec": {"hostNetwork": True, "containers": [_container()],
                                "volumes": [{"name": "etc", "hostPath": {"path": "/etc"}}]}}}
    widget = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    for obj, rule in ((rc, "no-privileged"), (pt, "host-namespaces"), (pt, "volumes"), (widget, "kinds")):
        body = _eval(client, alice, obj).json()
        assert body["allowed"] is False and rule in {v["rule"] for v in body["violations"]}, (obj["kind"], body)


# -- class 7 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("services", [
    # ~100 KB of expose ranges: once millions of ports and 4 GB of gateway memory
    {f"s{i}": {"image": "localhost/spin/busybox:1.35", "expose": [f"{1000 + j}-{1998 + j}" for j in range(60)]}
     for i in range(60)},
    {f"s{i}": {"image": "localhost/spin/busybox:1.35"} for i in range(300)},
], ids=["expose-ranges", "services"])
def test_class7_a_model_that_would_expand_too_far_is_refused_with_a_clear_error(client, token_for, services):
    started = time.monotonic()
    r = client.post("/v1/projects/bomb/check", json={"compose": {"name": "bomb", "services": services}},
                    headers=token_for("alice"))
    elapsed = time.monotonic() - started
    assert r.status_code == 422, r.text[:500]
    assert "more than" in r.json()["detail"]
    print(f"refused in {elapsed:.3f}s")  # measured, not asserted (benchmarks/ measure speed)


def test_class7_short_syntax_port_ranges_are_bounded_per_service_before_they_expand():
    from spin_gateway.compose_loader.normalize import ports
    from spin_gateway.vocabulary.errors import ComposeError

    with pytest.raises(ComposeError, match="more than 1000 ports"):
        ports([f"{2000 + 10 * j}-{2009 + 10 * j}" for j in range(200)], "services.web.ports")
    assert len(ports([f"{2000 + 10 * j}-{2009 + 10 * j}" for j in range(100)], "services.web.ports")) == 1000


# -- class 9 -------------------------------------------------------------------------------------

MALFORMED = [
    {"kind": "Deployment", "metadata": "x"},
    {"kind": "Deployment", "metadata": None},
    {"kind": "Deployment", "metadata": {"name": ["x"]}},
    {"kind": "Deployment", "apiVersion": 5, "metadata": {"name": "x"}},
    {"kind": "Deployment", "metadata": {"name": "x", "namespace": 3}},
    {"kind": "Deployment", "metadata": {"name": "x", "labels": "y"}},
]


def _deep(n):
    node = {"a": 1}
    for _ in range(n):
        node = {"x": node}
    return node


@pytest.mark.parametrize("obj", [*MALFORMED, {"kind": "Deployment", "metadata": {"name": "x"}, "spec": _deep(200)}])
def test_class9_malformed_objects_on_the_eval_route_are_422_not_500_and_audited(client, token_for, settings, obj):
    r = _eval(client, token_for("alice"), obj)
    assert r.status_code == 422, r.text
    refusals = _records(settings, "refusal")
    assert refusals and refusals[-1]["status"] == 422 and refusals[-1]["user"]["name"] == "alice"


def test_class9_a_nul_byte_in_a_host_path_is_refused_by_the_policy(client, token_for):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [_container()], "volumes": [{"name": "v", "hostPath": {"path": "/global/homes/a/alice/x\0"}}]}}
    body = _eval(client, token_for("alice"), pod).json()
    assert "mount_paths" in {v["rule"] for v in body["violations"]}


def test_class9_401_403_and_500_refusals_are_audited_once(client, token_for, settings):
    assert client.get("/v1/projects").status_code == 401
    assert client.get("/v1/projects", headers={"authorization": "Bearer forged"}).status_code == 401
    r = client.post("/v1/policy/eval", json={"objects": [{"kind": "Pod", "metadata": {"name": "p"}}], "as_user": "bob"},
                    headers=token_for("alice"))
    assert r.status_code == 403
    statuses = [r["status"] for r in _records(settings, "refusal")]
    assert statuses.count(401) == 2
    # the eval route's 403 is an access record already, not a second one
    assert any("may decide as another user" in r.get("violations", [{}])[0].get("message", "")
               for r in _records(settings, "access"))
    assert 403 not in statuses


def test_class9_an_unexpected_error_is_a_500_on_the_record(app, settings, token_for, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.gateway.backend, "list_projects", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/v1/projects", headers=token_for("carol")).status_code == 500
    assert [r["status"] for r in _records(settings, "refusal")][-1] == 500


def test_class9_x_forwarded_for_is_believed_only_from_trusted_proxies(settings, repo_root):
    from spin_gateway.gateway_api.app import build_app

    for trusted, expected in (([], "testclient"), (["testclient"], "testclient"), (["127.0.0.0/8"], "testclient")):
        s = settings.model_copy(update={"trusted_proxies": [t for t in trusted if t != "testclient"]})
        with TestClient(build_app(s)) as c:
            c.get("/v1/projects", headers={"x-forwarded-for": "203.0.113.9"})
        assert _records(s, "refusal")[-1]["source"] == expected


def test_class9_x_forwarded_for_from_a_trusted_proxy_names_the_client():
    from starlette.requests import Request

    from spin_gateway.gateway_api.source import client_source

    def request(peer, xff):
        headers = [(b"x-forwarded-for", xff.encode())] if xff else []
        return Request({"type": "http", "client": (peer, 1), "headers": headers})

    assert client_source(request("10.0.0.2", "203.0.113.9"), []) == "10.0.0.2"
    assert client_source(request("10.0.0.2", "203.0.113.9"), ["10.0.0.0/24"]) == "203.0.113.9"
    # what the client wrote itself (left of the proxy's entry) is not believed
    assert client_source(request("10.0.0.2", "198.51.100.1, 203.0.113.9"), ["10.0.0.0/24"]) == "203.0.113.9"
    assert client_source(request("192.0.2.7", "203.0.113.9"), ["10.0.0.0/24"]) == "192.0.2.7"
