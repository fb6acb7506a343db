"""The podman backend on one machine: only published ports reach the host, and `--wait` means ready."""

from __future__ import annotations

import json
import socket
import subprocess
import uuid

import httpx
import pytest

from tests.e2e.conftest import free_port

pytestmark = pytest.mark.podman
IMAGE = "localhost/spin/busybox:1.35"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_an_exposed_port_stays_inside_the_project_and_a_published_one_answers_on_loopback(gateway, tmp_path):
    published, exposed = free_port(), free_port()
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  web:\n"
        f"    image: {IMAGE}\n"
        f"    command: [sh, -c, 'mkdir -p /tmp/w && echo hi > /tmp/w/index.html && "
        f"httpd -p 8080 -h /tmp/w && httpd -f -p {exposed} -h /tmp/w']\n"
        f"    ports: ['127.0.0.1:{published}:8080']\n"
        f"    expose: ['{exposed}']\n"
        "  client:\n"
        f"    image: {IMAGE}\n"
        f"    command: [sh, -c, 'while true; do wget -qO- http://web:{exposed}/ && echo reached; sleep 1; done']\n")
    project = f"ports-{uuid.uuid4().hex[:6]}"
    try:
        up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60")
        assert up.returncode == 0, up.stdout + up.stderr
        assert httpx.get(f"http://127.0.0.1:{published}/", timeout=5).text.strip() == "hi"
        # podman 4.3 would publish the exposed port on 0.0.0.0: it must not reach the host at all
        assert not _listening(exposed)
        ports = subprocess.run(["podman", "ps", "--filter", f"label=spin.io/project={project}", "--format", "json"],
                               capture_output=True, text=True, check=True).stdout
        assert all(str(exposed) not in json.dumps(c.get("Ports")) for c in json.loads(ports))
        # ... while the other service still reaches it over the project network
        logs = gateway.spin("-p", project, "logs", "client", "--tail", "20")
        assert "reached" in logs.stdout
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_wait_does_not_take_a_crash_looping_service_for_ready(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  flaky:\n"
        f"    image: {IMAGE}\n"
        "    command: [sh, -c, 'echo starting up; sleep 1; echo cannot open the database; exit 3']\n")
    project = f"crash-{uuid.uuid4().hex[:6]}"
    try:
        up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "12", "--json")
        # exit 4: the workload failed (3 would say the gateway is unreachable, and "try again" would not help)
        assert up.returncode == 4, up.stdout + up.stderr
        error = json.loads(up.stdout)["error"]  # --json answers on failure too, with what was done
        assert error["type"] == "WaitTimeout" and "flaky" in error["message"] and "not ready" in error["message"]
        # the researcher learns why: the restarts and the container's last words
        assert "restarts" in error["message"] and "cannot open the database" in error["message"]
        assert [r["action"] for r in error["data"]["results"] if r["kind"] == "Deployment"] == ["created"]
        assert error["data"]["services"][0]["service"] == "flaky" and error["data"]["services"][0]["ready"] == 0
        ps = json.loads(gateway.spin("-p", project, "ps", "--json").stdout)
        assert ps["services"][0]["ready"] == 0
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_wait_runs_the_healthcheck_before_calling_a_service_ready(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  slow:\n"
        f"    image: {IMAGE}\n"
        "    command: [sh, -c, 'sleep 600']\n"
        "    healthcheck:\n"
        # Longer than the 63 characters podman 4.3 allows in an annotation value: kept with the decision instead.
        "      test: [CMD-SHELL, 'test -f /tmp/ready && echo the service says it is ready to take requests']\n"
        "      interval: 1s\n")
    project = f"health-{uuid.uuid4().hex[:6]}"
    try:
        check = gateway.spin("-f", str(compose), "-p", project, "check")
        assert check.returncode == 0, check.stdout + check.stderr
        up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "8")
        assert up.returncode == 4, up.stdout + up.stderr
        assert "readiness probe failed" in up.stderr
        pod = f"{project}_slow"  # <namespace>_<service>: no other project can spell it
        subprocess.run(["podman", "exec", f"{pod}-slow", "touch", "/tmp/ready"], check=True)
        again = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "30", "--json")
        assert again.returncode == 0, again.stdout + again.stderr
        assert json.loads(again.stdout)["services"][0]["ready"] == 1
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_a_one_shot_service_is_a_job_that_wait_sees_complete_and_a_second_up_leaves_alone(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  migrate:\n"
        f"    image: {IMAGE}\n"
        "    command: [sh, -c, 'echo migrated']\n"
        "    restart: 'no'\n")
    project = f"job-{uuid.uuid4().hex[:6]}"
    try:
        up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60", "--json")
        assert up.returncode == 0, up.stdout + up.stderr
        service = json.loads(up.stdout)["services"][0]
        assert service["state"] == "completed" and service["ready"] == 1
        assert "migrated" in gateway.spin("-p", project, "logs", "migrate").stdout
        again = gateway.spin("-f", str(compose), "-p", project, "up", "--json")
        assert json.loads(again.stdout)["status"] == "unchanged"
        assert gateway.spin("-p", project, "logs", "migrate").stdout.count("migrated") == 1
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_secrets_and_configs_arrive_as_files_with_their_modes_and_leave_with_down(gateway, tmp_path):
    (tmp_path / "pw.txt").write_text("s3cret")
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  app:\n"
        f"    image: {IMAGE}\n"
        "    command: [sh, -c, 'stat -c \"%a %n\" /run/secrets/pw /etc/app.conf; cat /run/secrets/pw; echo; "
        "cat /etc/app.conf; echo; sleep 600']\n"
        "    secrets: [pw]\n"
        "    configs:\n"
        "      - {source: conf, target: /etc/app.conf, mode: 0440}\n"
        "secrets:\n"
        "  pw: {file: ./pw.txt}\n"
        "configs:\n"
        "  conf: {content: 'threads=4'}\n")
    project = f"files-{uuid.uuid4().hex[:6]}"
    try:
        up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60")
        assert up.returncode == 0, up.stdout + up.stderr
        logs = gateway.spin("-p", project, "logs", "app").stdout
        assert "440 /run/secrets/pw" in logs and "440 /etc/app.conf" in logs  # never world-readable
        assert "s3cret" in logs and "threads=4" in logs
        # a changed secret replaces the pod, which then reads the new value
        (tmp_path / "pw.txt").write_text("rotated")
        again = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60", "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["status"] == "configured", again.stdout + again.stderr
        assert "rotated" in gateway.spin("-p", project, "logs", "app").stdout
    finally:
        gateway.spin("-p", project, "down", "-v")
    assert not (gateway.state / "podman-files" / project).exists()
