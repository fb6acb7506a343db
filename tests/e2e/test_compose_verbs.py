"""Issue 19 on real podman: compose's verbs as a compose user runs them (replicas, restart limits, stop/start,
restart, exec, logs -f, --force-recreate, down twice). Run under `flock /work/locks/podman.lock`."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from tests.e2e.conftest import SPIN

pytestmark = pytest.mark.podman
IMAGE = "localhost/spin/busybox:1.35"


def _containers(project: str) -> dict[str, str]:
    """container name -> id, of the project's (non-infra) containers."""
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label=spin.io/project={project}", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    return {c["Names"][0]: c["Id"] for c in json.loads(out or "[]") if not c.get("IsInfra")}


def test_replicas_stop_start_restart_exec_recreate_and_down_twice(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  web:\n"
        f"    image: {IMAGE}\n"
        "    command: [sh, -c, 'echo web up; sleep 600']\n"
        "    deploy: {replicas: 2}\n")
    project = f"verbs-{uuid.uuid4().hex[:6]}"
    try:
        up = gateway.spin("-f", str(compose), "-p", project, "up", "-d", "--wait", "--timeout", "60", "--json")
        assert up.returncode == 0, up.stdout + up.stderr
        web = json.loads(up.stdout)["services"][0]
        assert (web["service"], web["ready"], web["desired"]) == ("web", 2, 2)  # two pods, and ps says 2/2
        assert len(_containers(project)) == 2

        ran = gateway.spin("-p", project, "exec", "web", "sh", "-c", "echo from inside; exit 7")
        assert ran.returncode == 7 and "from inside" in ran.stdout, ran.stdout + ran.stderr  # the command's code
        records = [json.loads(line) for line in gateway.audit_log.read_text().splitlines()]
        assert any(r.get("operation") == "exec" and r["type"] == "decision" and r["decision"] == "allow" for r in records)

        stopped = gateway.spin("-p", project, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert json.loads(gateway.spin("-p", project, "ps", "--json").stdout)["services"] == []  # ps hides stopped
        every = json.loads(gateway.spin("-p", project, "ps", "-a", "--json").stdout)["services"]
        assert every and every[0]["ready"] == 0
        assert gateway.spin("-p", project, "start").returncode == 0
        before = _containers(project)
        assert gateway.spin("-p", project, "restart", "web").returncode == 0
        assert _containers(project) == before  # restart keeps the containers, as compose does

        again = gateway.spin("-f", str(compose), "-p", project, "up", "--force-recreate", "--wait", "--timeout", "60")
        assert again.returncode == 0, again.stdout + again.stderr
        assert set(_containers(project).values()).isdisjoint(before.values())  # new containers

        assert gateway.spin("-p", project, "down").returncode == 0
        assert _containers(project) == {}
        second = gateway.spin("-p", project, "down")
        assert second.returncode == 0 and "nothing to remove" in second.stdout
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_a_restart_limit_podman_cannot_honour_is_refused_with_the_reason(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"services:\n  flaky:\n    image: {IMAGE}\n    command: [sh, -c, 'exit 1']\n"
                       "    restart: on-failure:2\n")
    project = f"limit-{uuid.uuid4().hex[:6]}"
    try:
        up = gateway.spin("-f", str(compose), "-p", project, "up")
        assert up.returncode == 2, up.stdout + up.stderr  # refused before anything ran, not restarted 138 times
        assert "on-failure:2" in up.stderr and "--backend kubernetes" in up.stderr
        assert _containers(project) == {}
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_logs_follow_prints_new_lines_as_they_come(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"services:\n  ticker:\n    image: {IMAGE}\n"
                       "    command: [sh, -c, 'i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 1; done']\n")
    project = f"follow-{uuid.uuid4().hex[:6]}"
    try:
        assert gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60").returncode == 0
        env = {**os.environ, "SPIN_GATEWAY": gateway.url, "SPIN_TOKEN": gateway.token("alice"),
               "XDG_CONFIG_HOME": str(tmp_path / "config")}
        follower = subprocess.Popen([*SPIN, "-p", project, "logs", "-f", "ticker"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(8)
        finally:
            follower.terminate()
            out, err = follower.communicate(timeout=10)
        ticks = [int(line.rsplit(" ", 1)[1]) for line in out.splitlines() if line.startswith("ticker | tick ")]
        assert len(ticks) >= 4, out + err
        assert ticks == sorted(set(ticks))  # each line once, in order
        assert ticks[-1] - ticks[0] + 1 == len(ticks)  # and none missed
    finally:
        gateway.spin("-p", project, "down", "-v")


def test_run_rm_runs_a_one_off_prints_its_output_exits_with_its_code_and_removes_it(gateway, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"services:\n  tool:\n    image: {IMAGE}\n    command: [sleep, '600']\n"
                       "    environment: {GREETING: hello}\n")
    project = f"run-{uuid.uuid4().hex[:6]}"
    try:
        ran = gateway.spin("-f", str(compose), "-p", project, "run", "--rm", "tool",
                           "sh", "-c", "echo $GREETING from the one-off; exit 5")
        assert ran.returncode == 5, ran.stdout + ran.stderr  # the command's own code, as compose run
        assert "hello from the one-off" in ran.stdout
        services = json.loads(gateway.spin("-p", project, "ps", "-a", "--json").stdout)["services"]
        assert [s["service"] for s in services] == ["tool"]  # --rm removed the one-off; the service stays
        records = [json.loads(line) for line in gateway.audit_log.read_text().splitlines()]
        assert any(r["type"] == "decision" and r["object"]["name"].startswith("tool-run-") for r in records)
    finally:
        gateway.spin("-p", project, "down", "-v")
