"""Issue 19, a docker compose user's first hour: the verbs and flags they type by habit, the messages they read,
the exit codes their scripts test. The real CLI (typer's runner) talks over HTTP to the real gateway app
(uvicorn in a thread, manifests backend, embedded OPA, examples/users.yaml). What needs containers that run
(replicas, restart policies, stop/start, logs -f, parallel down) is in tests/e2e/test_compose_verbs.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import uvicorn
import yaml
from typer.testing import CliRunner

from spin_gateway.audit.log import read_records
from spin_gateway.cli import main as cli_main

IMAGE = "localhost/spin/busybox:1.35"


class Gateway:
    def __init__(self, root: Path, repo_root: Path, policy_dir: Path):
        from spin_gateway.gateway_api.app import build_app
        from spin_gateway.gateway_api.settings import Settings

        self.root = root
        self.manifests = root / "manifests"
        self.audit_log = root / "audit.log"
        self.app = build_app(Settings(backend="manifests", manifests_dir=self.manifests,
                                      users=repo_root / "examples/users.yaml", policy_dir=policy_dir,
                                      audit_log=self.audit_log, state_dir=root / "state", policy_poll_seconds=0))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the gateway did not start"
            time.sleep(0.05)

    def spin(self, *args: str, user: str | None = "alice", stdin: str | None = None):
        env = {"SPIN_GATEWAY": self.url, "XDG_CONFIG_HOME": str(self.root / f"config-{user}")}
        if user:
            env["SPIN_TOKEN"] = self.app.state.signer.issue(user)[0]
        return CliRunner().invoke(cli_main.app, list(args), env=env, input=stdin)

    def objects(self, project: str) -> dict[str, dict]:
        folder = self.manifests / project
        return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


def _start(tmp: Path, repo_root: Path, policy_dir: Path | None = None):
    return Gateway(tmp, repo_root, policy_dir or repo_root / "rego")


@pytest.fixture(scope="module")
def gw(tmp_path_factory, repo_root):
    g = _start(tmp_path_factory.mktemp("gw"), repo_root)
    yield g
    g.stop()


def _compose(folder: Path, services: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "compose.yaml"
    path.write_text(yaml.safe_dump({"services": services}))
    return path


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_compose_habits_up_d_is_accepted_and_down_twice_exits_0(gw, tmp_path):
    compose = _compose(tmp_path, {"web": {"image": IMAGE, "command": ["sleep", "600"]}})
    project = _name("habits")
    up = gw.spin("-f", str(compose), "-p", project, "up", "-d")
    assert up.exit_code == 0, up.output
    assert "project " + project in up.stdout
    first = gw.spin("-p", project, "down")
    assert first.exit_code == 0, first.output
    again = gw.spin("-p", project, "down", "--json")
    assert again.exit_code == 0, again.output  # compose exits 0 when there is nothing to remove
    assert json.loads(again.stdout) == {"project": project, "status": "absent"}


def test_build_and_pull_say_why_they_have_nothing_to_do(gw, tmp_path):
    compose = _compose(tmp_path, {"web": {"image": IMAGE}})
    for args in (["up", "--build"], ["build"], ["pull"]):
        result = gw.spin("-f", str(compose), *args)
        assert result.exit_code == 2, result.output
        assert "the gateway" in result.output and "hint:" in result.output


def test_an_orphaned_service_is_kept_with_a_notice_until_remove_orphans(gw, tmp_path):
    project = _name("orphans")
    both = _compose(tmp_path / "a", {"web": {"image": IMAGE}, "worker": {"image": IMAGE}})
    assert gw.spin("-f", str(both), "-p", project, "up").exit_code == 0
    assert "deployment-worker.yaml" in gw.objects(project)

    web_only = _compose(tmp_path / "b", {"web": {"image": IMAGE}})
    kept = gw.spin("-f", str(web_only), "-p", project, "up")
    assert kept.exit_code == 0, kept.output
    assert "services.worker: kept" in kept.stdout and "--remove-orphans" in kept.stdout
    assert "deployment-worker.yaml" in gw.objects(project)  # not removed silently

    removed = gw.spin("-f", str(web_only), "-p", project, "up", "--remove-orphans", "--json")
    assert removed.exit_code == 0, removed.output
    assert not [n for n in json.loads(removed.stdout)["notices"] if n["action"] == "kept"]
    assert "deployment-worker.yaml" not in gw.objects(project)
    gw.spin("-p", project, "down")


def test_scale_sets_replicas_through_the_policy(gw, tmp_path):
    project = _name("scale")
    compose = _compose(tmp_path, {"web": {"image": IMAGE}, "worker": {"image": IMAGE}})
    assert gw.spin("-f", str(compose), "-p", project, "up").exit_code == 0
    scaled = gw.spin("-f", str(compose), "-p", project, "scale", "worker=3")
    assert scaled.exit_code == 0, scaled.output
    objects = gw.objects(project)
    assert objects["deployment-worker.yaml"]["spec"]["replicas"] == 3
    assert objects["deployment-web.yaml"]["spec"]["replicas"] == 1
    typo = gw.spin("-f", str(compose), "-p", project, "scale", "wroker=2")
    assert typo.exit_code == 2 and "did you mean 'worker'" in typo.output
    gw.spin("-p", project, "down")


def test_a_refused_up_prints_each_violation_once(gw, tmp_path):
    compose = _compose(tmp_path, {"web": {"image": IMAGE, "privileged": True, "cap_add": ["SYS_ADMIN"]}})
    result = gw.spin("-f", str(compose), "-p", _name("twice"), "up")
    assert result.exit_code == 1, result.output
    denied = [line for line in result.output.splitlines() if line.strip().startswith("denied")]
    assert denied, result.output
    assert len(denied) == len(set(denied))
    # each violation's message appears on exactly one line
    for line in denied:
        message = line.split("] ", 1)[1]
        assert sum(message in other for other in result.output.splitlines()) == 1, result.output
    assert result.output.splitlines()[0].startswith("error: refused by policy: ")


def test_misspelt_keys_each_on_their_own_line_with_a_suggestion(tmp_path):
    compose = _compose(tmp_path, {"web": {"image": IMAGE, "comand": ["true"], "enviroment": {"A": "1"}}})
    result = CliRunner().invoke(cli_main.app, ["-f", str(compose), "config"])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == "error: 2 problems in the compose model:"
    assert "services.web: 'comand' is not a compose key here (did you mean 'command'?)" in lines[1]
    assert "services.web: 'enviroment' is not a compose key here (did you mean 'environment'?)" in lines[3]
    assert lines[2].strip().startswith("hint:") and lines[4].strip().startswith("hint:")

    result = CliRunner().invoke(cli_main.app, ["-f", str(compose), "--json", "config"])
    problems = json.loads(result.stdout)["error"]["data"]["problems"]
    assert [p["message"].split("'")[1] for p in problems] == ["comand", "enviroment"]


def test_misspelt_and_missing_verbs_say_what_to_type():
    result = CliRunner().invoke(cli_main.app, ["lgs"])
    assert result.exit_code == 2 and "Did you mean 'logs'" in result.output
    result = CliRunner().invoke(cli_main.app, ["rm"])
    assert result.exit_code == 2 and "spin down" in result.output
    helped = CliRunner().invoke(cli_main.app, ["--help"])
    assert "Differences from docker compose" in helped.output and "Exit codes: 0 done" in helped.output


def test_login_takes_the_user_as_an_argument_and_a_token_as_an_option(gw):
    result = gw.spin("login", "alice", "--password-stdin", user=None, stdin="alice-demo\n")
    assert result.exit_code == 0, result.output
    assert "logged in as alice" in result.output
    wrong = gw.spin("login", "alice", "--password-stdin", user=None, stdin="bob-demo\n")
    assert wrong.exit_code == 2 and "logged in" not in wrong.output

    token = gw.app.state.signer.issue("bob")[0]
    result = gw.spin("login", "--token", token, user=None)
    assert result.exit_code == 0 and "logged in as bob" in result.output
    stored = json.loads((gw.root / "config-None/spin/config.json").read_text())
    assert stored["token"] == token
    bad = gw.spin("login", "--token", "not-a-token", user=None)
    assert bad.exit_code == 2
    assert json.loads((gw.root / "config-None/spin/config.json").read_text())["token"] == token  # not replaced


def test_ls_says_who_a_project_is_shared_with(gw, tmp_path):
    project = _name("shared")
    compose = _compose(tmp_path, {"web": {"image": IMAGE}})
    assert gw.spin("-f", str(compose), "-p", project, "up").exit_code == 0
    listed = gw.spin("ls", user="bob")  # bob is in astro with alice: he sees (and may manage) her project
    row = next(line for line in listed.stdout.splitlines() if line.startswith(project))
    assert "members of astro" in row and "alice" in row
    assert "OWNER" not in listed.stdout and "SHARED WITH" in listed.stdout
    assert gw.spin("-p", project, "down", user="bob").exit_code == 0
    assert project not in gw.spin("ls").stdout


def test_exit_3_means_only_the_gateway_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(cli_main.app, ["--json", "-p", "x", "ps"],
                                env={"SPIN_GATEWAY": f"http://127.0.0.1:{port}", "SPIN_TOKEN": "t"})
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"]["type"] == "BackendUnavailable"


def test_exit_codes_are_one_table():
    """The table in docs/researcher.md is the classes' own: a code documented is the code raised."""
    from spin_gateway.vocabulary import errors as E

    assert {E.PolicyDenied.exit_code, E.Forbidden.exit_code} == {1}
    assert {E.UsageError.exit_code, E.ComposeError.exit_code, E.PodmanUnsupported.exit_code} == {2}
    assert {E.BackendUnavailable.exit_code, E.PodmanUnavailable.exit_code, E.KubeUnreachable.exit_code} == {3}
    assert {E.WorkloadFailed.exit_code, E.WaitTimeout.exit_code, E.ForwardError.exit_code} == {4}
    docs = (Path(__file__).resolve().parents[2] / "docs/researcher.md").read_text()
    for code, words in ((0, "done"), (1, "refused"), (2, "bad input"), (3, "unreachable"), (4, "failed")):
        assert any(line.startswith(f"| {code} ") and words in line for line in docs.splitlines()), (code, words)


def test_exec_is_decided_by_the_policy_and_audited(tmp_path, repo_root):
    """The site decides exec: listed in site.yaml's kinds (the default) it passes the policy; removed, every exec
    is refused with exit 1 and the refusal is on the audit record."""
    rego = tmp_path / "rego"
    shutil.copytree(repo_root / "rego", rego)
    site = rego / "site.yaml"
    g = _start(tmp_path / "gw", repo_root, rego)
    try:
        project = _name("exec")
        compose = _compose(tmp_path / "p", {"web": {"image": IMAGE}})
        assert g.spin("-f", str(compose), "-p", project, "up").exit_code == 0
        # allowed by the policy; the manifests backend runs nothing, and says so (exit 2)
        ran = g.spin("-p", project, "exec", "web", "sh", "-c", "id")
        assert ran.exit_code == 2 and "runs nothing" in ran.output, ran.output
        exec_records = [r for r in read_records(g.audit_log) if r.get("operation") == "exec"]
        assert [r["decision"] for r in exec_records if r["type"] == "decision"] == ["allow"]

        site.write_text(site.read_text().replace(",\n        PodExecOptions]", "]"))
        g.app.state.gateway.policy.reload()
        refused = g.spin("-p", project, "exec", "web", "sh", "-c", "id")
        assert refused.exit_code == 1, refused.output
        assert "PodExecOptions" in refused.output and "[kinds]" in refused.output
        decisions = [r for r in read_records(g.audit_log) if r.get("operation") == "exec" and r["type"] == "decision"]
        assert decisions[-1]["decision"] == "deny"
        assert decisions[-1]["object"]["kind"] == "PodExecOptions"
    finally:
        g.stop()
