"""The CLI's one error boundary: every error body the gateway can send becomes the same class and exit code.

The gateway here is the real app (build_app) served by uvicorn on a free port, with one
extra route that raises what the test names; its real exception handlers write the body,
the CLI's real client reads it over HTTP, and `reports_errors` turns it into the exit code.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from spin_gateway.cli import main as cli_main
from spin_gateway.cli.client import GatewayClient
from spin_gateway.cli.errors import EXIT_REFUSED, error_from_answer, reports_errors
from spin_gateway.vocabulary import errors as E


def _vocabulary() -> list[type[E.SpinError]]:
    """SpinError and every subclass the vocabulary defines, found by walking the tree (a new class is in at once)."""
    found, todo = [], [E.SpinError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == E.__name__:
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory, repo_root):
    from spin_gateway.gateway_api.app import build_app
    from spin_gateway.gateway_api.settings import Settings

    tmp = tmp_path_factory.mktemp("gw")
    app = build_app(Settings(backend="manifests", manifests_dir=tmp / "manifests", users=repo_root / "examples/users.yaml",
                             policy_dir=repo_root / "rego", audit_log=tmp / "audit.log", state_dir=tmp / "state",
                             policy_poll_seconds=0))
    classes = {cls.__name__: cls for cls in _vocabulary()}

    def raise_spin_error(name: str):
        raise classes[name]("the message of " + name, "the hint of " + name, where="services.web.image")

    def raise_bug():
        raise RuntimeError("a secret-looking detail the gateway must not send")

    def typed(n: int):
        return {"n": n}

    app.add_api_route("/test/raise/{name}", raise_spin_error)
    app.add_api_route("/test/bug", raise_bug)
    app.add_api_route("/test/typed", typed)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def _spin_exit(url: str, path: str, *args: str):
    """The exit and output of a CLI command that asks the gateway for `path`, through the real boundary."""
    @reports_errors
    def ask(ctx: typer.Context):
        GatewayClient(url, None).request("GET", path)

    root = typer.Typer()
    root.callback()(cli_main.root)  # the real root options, so --json reaches the boundary
    root.command("ask")(ask)
    return CliRunner().invoke(root, [*args, "ask"])


@pytest.mark.parametrize("cls", _vocabulary(), ids=lambda c: c.__name__)
def test_every_error_the_gateway_sends_maps_to_the_same_class_and_exit_code(gateway_url, cls):
    import httpx

    answer = httpx.get(f"{gateway_url}/test/raise/{cls.__name__}")
    assert answer.status_code == cls.http_status

    # A class may go on the wire as its parent (a refused login is an AuthError to every client): it maps to that.
    expected = getattr(E, cls("x").kind)
    error = error_from_answer(answer.status_code, answer.json())
    assert type(error) is expected
    assert error.exit_code == cls.exit_code
    assert (error.message, error.hint) == (f"the message of {cls.__name__}", f"the hint of {cls.__name__}")
    assert error.details["where"] == "services.web.image"

    result = _spin_exit(gateway_url, f"/test/raise/{cls.__name__}")
    assert result.exit_code == cls.exit_code, result.output
    assert f"error: the message of {cls.__name__}" in result.output and f"hint: the hint of {cls.__name__}" in result.output

    result = _spin_exit(gateway_url, f"/test/raise/{cls.__name__}", "--json")
    assert result.exit_code == cls.exit_code
    assert json.loads(result.stdout)["error"]["type"] == expected.__name__


def test_the_gateways_own_bodies_map_by_their_type(gateway_url):
    # An unexpected exception: the gateway says InternalError (HTTP 500), the CLI exits 3, not 2 as a policy load error.
    result = _spin_exit(gateway_url, "/test/bug", "--json")
    assert result.exit_code == 3
    body = json.loads(result.stdout)["error"]
    assert body["type"] == "InternalError" and "secret-looking" not in result.stdout

    # A request that does not match the API's schema (422 InvalidRequest) is bad input, not a compose error.
    result = _spin_exit(gateway_url, "/test/typed?n=twelve", "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)["error"]
    assert body["type"] == "UsageError" and "n" in body["message"]

    # A route the gateway does not have: its HTTPError body carries only the status.
    result = _spin_exit(gateway_url, "/v1/no-such-route", "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["type"] == "NotFound"


@pytest.mark.parametrize("status, cls", [
    (400, E.UsageError), (401, E.AuthError), (403, E.Forbidden), (404, E.NotFound), (409, E.Conflict),
    (413, E.UsageError), (422, E.UsageError), (500, E.InternalError), (502, E.InternalError),
    (503, E.InternalError), (504, E.InternalError),
])
@pytest.mark.parametrize("body", [None, {}, {"error": "ANewErrorThisCliDoesNotKnow", "detail": "d", "hint": "h"},
                                  {"error": "HTTPError", "detail": "Not Found"}, "<html>proxy</html>"],
                         ids=["not-json", "empty", "unknown-type", "HTTPError", "html"])
def test_without_a_known_type_the_status_decides(status, cls, body):
    error = error_from_answer(status, body)
    assert type(error) is cls
    assert error.message  # never an empty line after "error:"


@pytest.mark.parametrize("kind, status, exit_code", [
    ("PolicyError", 503, 1),       # fail closed: a refusal, although a bare 503 would be exit 3
    ("PolicyLoadError", 500, 2),   # the policy folder does not compile, although a bare 500 is exit 3
    ("TranslateError", 422, 2), ("ComposeError", 422, 2),
    ("Forbidden", 403, 1), ("PolicyDenied", 403, 1),
])
def test_the_type_wins_over_the_status(kind, status, exit_code):
    error = error_from_answer(status, {"error": kind, "detail": "m", "hint": "h"})
    assert error.kind == kind and error.exit_code == exit_code


def test_the_clis_own_json_error_shape_is_read_too():
    body = {"error": {"type": "OpaUnavailable", "message": "m", "hint": "h", "data": {"x": 1}}}
    error = error_from_answer(503, body)
    assert type(error) is E.OpaUnavailable and (error.message, error.hint, error.details) == ("m", "h", {"x": 1})


def test_every_command_goes_through_the_boundary():
    """A command outside `reports_errors` would print a traceback or exit with an unmapped code."""
    def commands(app: typer.Typer, prefix: str):
        for info in app.registered_commands:
            yield prefix + (info.name or info.callback.__name__), info.callback
        for group in app.registered_groups:
            sub = group.typer_instance
            if sub.registered_callback and sub.registered_callback.callback:
                yield prefix + group.name, sub.registered_callback.callback
            yield from commands(sub, f"{prefix}{group.name} ")

    found = dict(commands(cli_main.app, ""))
    assert len(found) >= 20  # up ... token revoke
    assert [name for name, fn in found.items() if not getattr(fn, "reports_errors", False)] == []


def test_a_refused_result_exits_1_and_its_json_stays_one_document(repo_root):
    """`policy eval` that refuses: exit 1 through the boundary, and no error body appended to the JSON result."""
    sample = repo_root / "rego/capabilities/samples/denied_sys_admin.yaml"
    result = CliRunner().invoke(cli_main.app, ["policy", "eval", "-o", str(sample), "--as", "alice", "--users",
                                               str(repo_root / "examples/users.yaml"), "--policy-dir",
                                               str(repo_root / "rego"), "--json"])
    assert result.exit_code == EXIT_REFUSED == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["allowed"] is False
