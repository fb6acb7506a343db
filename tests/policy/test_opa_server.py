"""The OPA server engine (`--opa-url`): its requests, how it reads OPA's answers, and how it fails closed.

A small local HTTP handler serves OPA's REST shapes with answers recorded from OPA's
own Go engine (the embedded engine) on the same inputs; it computes nothing itself.
That checks the client's side, including answers a real OPA gives only when
broken (an undefined result, a result that is not an object). The real `opa`
server, its agreement with the embedded engine on every sample and the gateway
failing closed against it are in tests/policy/test_real_opa.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
from spin_gateway.policy.bundle import load_bundle
from spin_gateway.policy.embedded import EmbeddedEngine
from spin_gateway.policy.evaluate import evaluate_objects
from spin_gateway.policy.opa_server import OpaServerEngine
from spin_gateway.policy.service import PolicyService
from spin_gateway.vocabulary.errors import OpaUnavailable, PolicyLoadError

ROOT = Path(__file__).resolve().parents[2]
REGO = ROOT / "rego"
SAMPLES = [REGO / "registries/samples/denied_docker_hub.yaml",
           REGO / "uid_mapping/samples/allowed_unset_patched_to_the_caller.yaml",
           REGO / "global_fs/samples/denied_dot_dot_into_other_project.yaml",
           REGO / "registries/samples/allowed_site_registry.yaml"]
ALICE = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")


def _key(policy_input) -> str:
    return json.dumps(policy_input, sort_keys=True)


class _Recorder:
    """The embedded engine, keeping each input and OPA's answer to it."""

    def __init__(self, bundle, table):
        self._engine = EmbeddedEngine(bundle, pool_size=1)
        self.bundle, self.name, self._table = bundle, "recorder", table

    def evaluate(self, policy_input):
        answer = self._engine.evaluate(policy_input)
        self._table[_key(policy_input)] = answer
        return answer

    def close(self):
        self._engine.close()


class Opa:
    """OPA's REST shapes over recorded answers; `mode` injects a failure."""

    def __init__(self, bundle, table):
        self.bundle, self.table, self.mode, self.requests = bundle, table, "ok", []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                if self.path == "/v1/policies":  # as OPA lists modules loaded from a bundle: id and raw source
                    mods = {**outer.bundle.modules, **outer.bundle.tests}
                    return self._send(200, {"result": [{"id": f"rego/{k}", "raw": v} for k, v in mods.items()]})
                if self.path == "/v1/data/spin/config":
                    return self._send(200, {"result": outer.bundle.site})
                self._send(404, {"code": "resource_not_found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.requests.append((self.path, body))
                if outer.mode == "slow":
                    time.sleep(1.0)
                if outer.mode == "500":
                    return self._send(500, {"code": "internal_error", "message": "eval_conflict_error"})
                if outer.mode == "undefined":
                    return self._send(200, {})  # OPA's answer for an undefined document
                if outer.mode == "not-an-object":
                    return self._send(200, {"result": ["deny"]})
                self._send(200, {"result": outer.table[_key(body["input"])]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def recorded():
    table: dict[str, dict] = {}
    embedded = {p: evaluate_objects(p, ALICE, REGO, factory=lambda b: _Recorder(b, table)) for p in SAMPLES}
    return table, embedded


@pytest.fixture
def opa(recorded):
    server = Opa(load_bundle(REGO), recorded[0])
    yield server
    server.close()


def _strip(decisions):
    return [(d.allowed, d.violations, d.patches, d.warnings, d.revision) for d in decisions]


def test_decisions_through_the_server_match_the_embedded_engine(opa, recorded):
    for sample in SAMPLES:
        served = evaluate_objects(sample, ALICE, REGO, opa_url=opa.url)
        assert _strip(served) == _strip(recorded[1][sample]), sample.name
        assert {d.engine for d in served} == {"opa-server"}
    # the same input shape as the embedded engine, at the path of data.spin.admission
    path, body = opa.requests[0]
    assert path == "/v1/data/spin/admission"
    assert set(body) == {"input"} and body["input"]["user"]["name"] == "alice"
    assert body["input"]["request"]["object"]["kind"] == "Deployment"


def _decide_one(opa, **engine_args):
    service = PolicyService(REGO, factory=lambda b: OpaServerEngine(b, opa.url, **engine_args), timeout=5)
    try:
        key = next(iter(opa.table))
        return service.decide("1", "CREATE", "Deployment", "web", json.loads(key))
    finally:
        service.close()


@pytest.mark.parametrize("mode,words", [("500", "answered HTTP 500"), ("undefined", "undefined"),
                                        ("not-an-object", "not an object")])
def test_a_server_failure_is_a_denial(opa, mode, words):
    opa.mode = mode
    decision = _decide_one(opa)
    assert not decision.allowed
    assert [v.rule for v in decision.violations] == ["policy-error"]
    assert words in decision.violations[0].message


def test_a_slow_server_is_a_denial_at_the_client_timeout(opa):
    opa.mode = "slow"
    started = time.monotonic()
    decision = _decide_one(opa, timeout=0.3)
    assert not decision.allowed and "did not answer within 0.3s" in decision.violations[0].message
    assert time.monotonic() - started < 1.0  # no retries on top of the timeout


def test_an_unreachable_server_refuses_to_start_and_refuses_each_decision(opa):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(OpaUnavailable):
        OpaServerEngine(load_bundle(REGO), closed)
    engine = OpaServerEngine(load_bundle(REGO), closed, verify=False)
    with pytest.raises(OpaUnavailable):
        engine.evaluate({"request": {}})


def test_a_server_holding_other_policies_is_refused_at_start(opa, tmp_path):
    other = tmp_path / "rego"
    other.mkdir()
    (other / "admission.rego").write_text("package spin.admission\n\ndeny := []\n")
    with pytest.raises(PolicyLoadError, match="other policies"):
        OpaServerEngine(load_bundle(other), opa.url)


def test_a_server_holding_other_site_data_is_refused_at_start(opa, tmp_path):
    import shutil

    copy = tmp_path / "rego"
    shutil.copytree(REGO, copy)
    (copy / "site.yaml").write_text("registries: [docker.io]\n")
    with pytest.raises(PolicyLoadError, match="other site data"):
        OpaServerEngine(load_bundle(copy), opa.url)


def test_the_url_must_be_a_plain_server_address():
    from spin_gateway.vocabulary.errors import UsageError

    with pytest.raises(UsageError):
        OpaServerEngine(load_bundle(REGO), "127.0.0.1:8181")
    with pytest.raises(UsageError):
        OpaServerEngine(load_bundle(REGO), "http://127.0.0.1:8181/v1/data")
