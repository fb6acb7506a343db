"""The real `opa` binary (built from github.com/open-policy-agent/opa by scripts/install-kube.sh).

- `opa check --strict` accepts the library, and `opa test` runs the same tests as
  `spin policy test` with the same results;
- `spin policy eval --opa-url` and `spin gateway serve --opa-url` against a real
  `opa run --server` loaded with the bundle `spin policy bundle` writes decide
  every sample exactly as the embedded engine does;
- the gateway fails closed when that server is slow (stopped), down (killed) or
  answers with an error (a real OPA refusing a request body over its limit).

In CI the binary must be there (scripts/test.sh runs install-kube.sh); elsewhere
the tests skip with the command that builds it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
from spin_gateway.policy.evaluate import evaluate_objects
from spin_gateway.policy.samples import read_sample
from spin_gateway.policy.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
REGO = ROOT / "rego"
USERS = UsersFileProvider(ROOT / "examples/users.yaml")
SAMPLES = sorted(REGO.glob("*/samples/*.yaml"))
SPIN = [sys.executable, "-m", "spin_gateway.cli.main"]


def opa_binary() -> str:
    found = Path(os.environ.get("SPIN_KUBE_CACHE", "/var/cache/spin-kube")) / "bin/opa"
    path = str(found) if found.exists() else shutil.which("opa")
    if path is None:
        message = "the opa binary is missing: run `bash scripts/install-kube.sh` (it builds it from its Go module)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def opa() -> str:
    return opa_binary()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpaServer:
    """`opa run --server` on loopback with the bundle `spin policy bundle` wrote."""

    def __init__(self, opa: str, bundle: Path, log: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([opa, "run", "--server", "--addr", f"127.0.0.1:{self.port}",
                                      "--log-level", "error", *extra, "--bundle", str(bundle)],
                                     stdout=open(log, "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.url}/health?bundles", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"opa did not become healthy: {log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle.tar.gz"
    made = subprocess.run([*SPIN, "policy", "bundle", "-o", str(out), "--policy-dir", str(REGO)], cwd=ROOT,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return out


@pytest.fixture(scope="module")
def server(opa, bundle, tmp_path_factory):
    live = OpaServer(opa, bundle, tmp_path_factory.mktemp("opa") / "opa.log")
    yield live
    live.stop()


def test_opa_check_strict_accepts_the_library(opa):
    out = subprocess.run([opa, "check", "--strict", str(REGO)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_opa_test_runs_the_same_tests_as_spin_policy_test_with_the_same_results(opa, tmp_path):
    # OPA reads data only from data.json/data.yaml: the bundle folder puts site.yaml where the
    # embedded engine sees it (data.spin.config), with the *_test.rego files.
    folder = tmp_path / "bundle"
    made = subprocess.run([*SPIN, "policy", "bundle", "--with-tests", "-o", str(folder), "--policy-dir", str(REGO)],
                          cwd=ROOT, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    out = subprocess.run([opa, "test", "--format", "json", str(folder)], capture_output=True, text=True, timeout=300)
    results = json.loads(out.stdout)
    theirs = {(r["package"].removeprefix("data."), r["name"]): not r.get("fail") and not r.get("error")
              for r in results}
    report = run_tests(REGO)
    ours = {(r.package.removeprefix("data."), r.name): r.passed for r in report.results}
    assert ours and theirs == ours, {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs)
                                     if ours.get(k) != theirs.get(k)}
    assert all(theirs.values()) and out.returncode == 0, out.stderr


def _strip(decisions):
    return [(d.kind, d.name, d.allowed, d.violations, d.patches, d.warnings, d.revision) for d in decisions]


def test_every_sample_is_decided_by_a_real_opa_server_as_by_the_embedded_engine(server):
    assert len(SAMPLES) > 40
    for path in SAMPLES:
        user = USERS.lookup(read_sample(path).as_user)
        embedded = evaluate_objects(path, user, REGO)
        served = evaluate_objects(path, user, REGO, opa_url=server.url)
        assert _strip(served) == _strip(embedded), path.relative_to(ROOT)
        assert {d.engine for d in served} == {"opa-server"}


COMPOSE = """
services:
  web:
    image: localhost/spin/busybox:1.35
    command: ["httpd", "-f", "-p", "8080"]
  bad:
    image: docker.io/library/busybox:1.35
    privileged: true
"""


class Gateway:
    """`spin gateway serve` (manifests backend) deciding with the embedded engine or an OPA server."""

    def __init__(self, tmp: Path, opa_url: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.state = tmp / "state"
        self.audit_log = self.state / "audit.log"
        args = [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "manifests",
                "--manifests-dir", str(tmp / "out"), "--users", str(ROOT / "examples/users.yaml"),
                "--policy-dir", str(REGO), "--audit-log", str(self.audit_log), "--state-dir", str(self.state)]
        if opa_url:
            args += ["--opa-url", opa_url]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=open(tmp / "gateway.log", "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((tmp / "gateway.log").read_text())
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"gateway did not start: {(tmp / 'gateway.log').read_text()[-2000:]}")
        self.token = subprocess.run([*SPIN, "gateway", "token", "--user", "alice", "--state-dir", str(self.state)],
                                    cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    def up(self, compose: Path, project: str) -> tuple[int, dict]:
        env = {**os.environ, "SPIN_GATEWAY": self.url, "SPIN_TOKEN": self.token,
               "XDG_CONFIG_HOME": str(self.tmp / "config")}
        out = subprocess.run([*SPIN, "-f", str(compose), "-p", project, "up", "--json"], cwd=ROOT,
                             capture_output=True, text=True, env=env, timeout=60)
        text = out.stdout.strip() or out.stderr.strip()
        return out.returncode, json.loads(text[text.index("{"):]) if "{" in text else {"raw": text}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _decisions(audit_log: Path) -> list[tuple]:
    """The decisions as audited, without what differs by engine or by run (engine, time, request id)."""
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    return sorted((r["object"]["kind"], r["object"]["name"], r["verb"], r["decision"],
                   json.dumps(r["violations"], sort_keys=True), json.dumps(r["patches"], sort_keys=True),
                   json.dumps(r["warnings"]), r["policy_revision"]) for r in records if r["type"] == "decision")


@pytest.fixture
def compose(tmp_path) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    return path


@pytest.fixture
def allowed_compose(tmp_path) -> Path:
    """A project the policy allows: a refusal of it can only come from the engine failing."""
    path = tmp_path / "allowed.yaml"
    path.write_text(COMPOSE.split("  bad:")[0])
    return path


def test_the_gateway_decides_the_same_through_a_real_opa_server(server, compose, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    embedded, served = Gateway(tmp_path / "a", None), Gateway(tmp_path / "b", server.url)
    try:
        code_e, body_e = embedded.up(compose, "opa-same")
        code_s, body_s = served.up(compose, "opa-same")
    finally:
        embedded.stop()
        served.stop()
    assert code_e == code_s == 1, (body_e, body_s)  # `bad` is refused (docker.io, privileged)
    text = json.dumps(body_s)
    assert "no-privileged" in text and "registries" in text, text
    decided = _decisions(served.audit_log)
    assert decided == _decisions(embedded.audit_log)
    # web is allowed with the policy's patches (limits, no escalation), bad refused: both paths exercised.
    assert {(d[1], d[3]) for d in decided} >= {("web", "allow"), ("bad", "deny")}
    assert any(d[1] == "web" and d[5] != "[]" for d in decided)
    records = [json.loads(line) for line in served.audit_log.read_text().splitlines()]
    assert {r["engine"] for r in records if r["type"] == "decision"} == {"opa-server"}


@pytest.mark.parametrize("failure", ["slow", "down", "error"])
def test_the_gateway_fails_closed_when_the_real_opa_server_fails(opa, bundle, allowed_compose, tmp_path, failure):
    # "error": a real OPA whose request body limit is smaller than a decision's input refuses it (HTTP 413).
    extra = ("--set", "server.decoding.max_length=300") if failure == "error" else ()
    live = OpaServer(opa, bundle, tmp_path / "opa.log", *extra)
    gateway = Gateway(tmp_path, live.url)
    try:
        if failure == "slow":
            live.proc.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        elif failure == "down":
            live.stop()
        began = time.monotonic()
        code, body = gateway.up(allowed_compose, f"opa-{failure}")
        took = time.monotonic() - began
    finally:
        gateway.stop()
        live.stop()
    assert code != 0, body
    text = json.dumps(body)
    assert "policy-error" in text or "OpaUnavailable" in text or "PolicyError" in text, text
    records = [json.loads(line) for line in gateway.audit_log.read_text().splitlines()]
    decisions = [r for r in records if r["type"] == "decision"]
    assert decisions and all(r["decision"] == "deny" for r in decisions), decisions
    assert not [r for r in records if r["type"] == "forward"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.yaml"))
    assert took < 30
