"""`spin convert` as a user runs it: refusals name the key and the way out, --allow-unsupported reports, secrets are read."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from spin_gateway.cli.file_sources import MAX_BYTES, inline_file_sources
from spin_gateway.cli.main import app
from spin_gateway.vocabulary.errors import ComposeError

runner = CliRunner()


def _write(tmp_path, text):
    (tmp_path / "compose.yaml").write_text(text)
    return str(tmp_path / "compose.yaml")


def test_convert_refuses_an_unsupported_key_naming_service_key_and_the_flag(tmp_path):
    f = _write(tmp_path, "services:\n  web:\n    image: nginx\n    init: true\n")
    result = runner.invoke(app, ["-f", f, "-p", "demo", "convert"])
    assert result.exit_code == 2
    assert "services.web.init" in result.output and "--allow-unsupported" in result.output
    assert "Traceback" not in result.output


def test_convert_with_allow_unsupported_prints_the_objects_and_a_notice_per_key_left_out(tmp_path):
    f = _write(tmp_path, "services:\n  web:\n    image: nginx\n    init: true\n    ports: ['8080:80']\n")
    result = runner.invoke(app, ["-f", f, "-p", "demo", "convert", "--allow-unsupported", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [n["path"] for n in body["notices"]] == ["services.web.init"]
    assert [o["kind"] for o in body["objects"]] == ["Namespace", "Deployment", "Service", "NetworkPolicy", "NetworkPolicy"]


def test_convert_reads_the_secret_file_into_the_secret(tmp_path):
    (tmp_path / "pw.txt").write_text("hunter2")
    f = _write(tmp_path, "services:\n  db:\n    image: postgres\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["-f", f, "-p", "demo", "convert", "-o", str(out)])
    assert result.exit_code == 0, result.output
    secret = yaml.safe_load((out / "01-secret-pw.yaml").read_text())
    assert secret["data"] == {"content": "aHVudGVyMg=="}


def test_a_missing_secret_file_is_a_clear_error_naming_the_secret(tmp_path):
    f = _write(tmp_path, "services:\n  db:\n    image: postgres\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./nope.txt\n")
    result = runner.invoke(app, ["-f", f, "-p", "demo", "convert"])
    assert result.exit_code == 2
    assert "secrets.pw" in result.output and "nope.txt" in result.output and "does not exist" in result.output


def test_a_build_only_service_runs_compose_s_image_name_and_says_to_build_it(tmp_path):
    (tmp_path / "app").mkdir()
    f = _write(tmp_path, "services:\n  app:\n    build: ./app\n")
    result = runner.invoke(app, ["-f", f, "-p", "demo", "convert"])
    assert result.exit_code == 0, result.output
    objects = list(yaml.safe_load_all(result.stdout))
    pod = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "localhost/demo-app:latest"
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"  # the local build, not a pull of :latest
    notice = next(line for line in result.stderr.splitlines() if "services.app.build" in line)
    assert "does not build" in notice and f"podman build -t localhost/demo-app:latest {tmp_path / 'app'}" in notice


def _model(**spec):
    return {"name": "demo", "services": {"a": {"image": "x", "secrets": [{"source": "s"}]}}, "secrets": {"s": spec}}


def test_file_sources_read_files_and_variables_without_touching_the_original(tmp_path):
    (tmp_path / "s").write_text("from file")
    m = _model(file=str(tmp_path / "s"))
    assert inline_file_sources(m)["secrets"]["s"]["content"] == "from file"
    assert "content" not in m["secrets"]["s"]
    assert inline_file_sources(_model(environment="TOKEN"), environ={"TOKEN": "t0k"})["secrets"]["s"]["content"] == "t0k"


@pytest.mark.parametrize("setup, words", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00"), "not UTF-8"),
    (lambda p: p.write_bytes(b"x" * (MAX_BYTES + 1)), "at most"),
    (lambda p: p.mkdir(), "is a folder"),
])
def test_file_sources_refuse_what_cannot_become_a_secret_without_printing_content(tmp_path, setup, words):
    path = tmp_path / "s"
    setup(path)
    with pytest.raises(ComposeError, match=words) as err:
        inline_file_sources(_model(file=str(path)))
    assert "secrets.s" in err.value.message and "\xff" not in err.value.message


def test_an_unset_variable_for_a_secret_is_named():
    with pytest.raises(ComposeError, match=r"secrets\.s: the environment variable TOKEN is not set"):
        inline_file_sources(_model(environment="TOKEN"), environ={})


@pytest.mark.parametrize("compose, words", [
    ("services:\n  web_1:\n    image: nginx\n  web-1:\n    image: nginx\n", ["web_1", "web-1"]),
    ("services:\n  a:\n    image: nginx\n    depends_on: [b]\n  b:\n    image: nginx\n    depends_on: [a]\n", ["cycle"]),
    ("services:\n  a:\n    image: nginx\n    expose: ['1-65535']\n", ["services.a.expose[0]"]),
])
def test_convert_refuses_what_would_break_the_cluster_with_a_message_not_a_traceback(tmp_path, compose, words):
    f = _write(tmp_path, compose)
    result = runner.invoke(app, ["-f", f, "-p", "demo", "convert"])
    assert result.exit_code == 2
    assert all(w in result.output for w in words), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_spin_convert_and_the_gateways_convert_give_the_same_objects(tmp_path, monkeypatch, client, token_for):
    """One function makes both: the same compose, user and facility project give the same objects and notices."""
    (tmp_path / "pw.txt").write_text("hunter2")
    f = _write(tmp_path, "services:\n  web:\n    image: nginx\n    init: true\n    ports: ['8080:80']\n"
                         "    secrets: [pw]\n    volumes: [data:/data]\nvolumes:\n  data: {}\n"
                         "secrets:\n  pw:\n    file: ./pw.txt\n")
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "alice")
    monkeypatch.setenv("SPIN_FACILITY_PROJECT", "astro")  # alice's first project: the gateway's default for her
    local = runner.invoke(app, ["-f", f, "-p", "demo", "convert", "--allow-unsupported", "--json"])
    assert local.exit_code == 0, local.output
    local_body = json.loads(local.stdout)

    model = runner.invoke(app, ["-f", f, "-p", "demo", "config", "--json"])
    compose = inline_file_sources(json.loads(model.stdout))
    remote = client.post("/v1/projects/demo/convert", json={"compose": compose, "allow_unsupported": True},
                         headers=token_for("alice"))
    assert remote.status_code == 200, remote.text
    assert remote.json()["objects"] == local_body["objects"]
    assert remote.json()["notices"] == local_body["notices"]
    assert {o["kind"] for o in local_body["objects"]} >= {"Namespace", "Deployment", "Secret", "PersistentVolumeClaim"}
