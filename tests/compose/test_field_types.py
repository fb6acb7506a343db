"""One field at a time, right and wrong types: accepted (and read the same) or refused exactly where Docker Compose
accepts or refuses it, so a file that works with docker compose works with spin and a broken one is caught here."""

from __future__ import annotations

import pytest

from spin_gateway.compose_loader import load_project
from spin_gateway.vocabulary.errors import ComposeError
from tests.compose.diff import differences
from tests.compose.oracle import docker_compose_config, oracle_environment

FIELDS = [
    "image: 5", "user: 1000", "restart: 5", 'privileged: "maybe"', 'privileged: "TRUE"', 'init: "no"',
    "read_only: null", "expose: [80.5]", "expose: 80", 'expose: [80, "81"]', "cap_add: [5]", "cap_add: CHOWN",
    "dns: 5", "dns: 8.8.8.8", "dns_opt: x", "dns_search: x.com", "profiles: [5]", "networks: [5]",
    "labels: {a: null, b: 1}", "environment: {A: null}", "environment: {A: [1]}", "volumes: [5]",
    'ports: [{target: "x"}]', 'ports: ["abc"]', "ports: [80.5]", "stop_signal: 9", "platform: 5",
    "pull_policy: sometimes", "pull_policy: missing", "tmpfs: 5", "tmpfs: /x", "shm_size: true", "shm_size: 1g",
    "mem_limit: abc", "healthcheck: {retries: -1}", "healthcheck: {test: 5}", "deploy: {replicas: -1}",
    "secrets: [5]", "extra_hosts: [5]", "security_opt: 5", "entrypoint: 5", "command: [echo, 1]", "scale: -1",
    "domainname: 5", "links: db", "links: [db]", "devices: /dev/x", "group_add: [mail, 5]", "volumes_from: [db]",
    "depends_on: {db: {condition: foo}}", "depends_on: {db: {condition: service_healthy}}",
]


@pytest.mark.parametrize("field", FIELDS)
def test_field_is_accepted_or_refused_as_docker_compose_does(tmp_path, field):
    text = f"services:\n  a:\n    image: a\n    {field}\n  db:\n    image: db\n"
    if field.startswith("image:"):
        text = f"services:\n  a:\n    {field}\n"
    (tmp_path / "compose.yaml").write_text(text)
    theirs = docker_compose_config(tmp_path, [], {}, [])
    try:
        ours = load_project([], environ=oracle_environment(tmp_path, {}), working_dir=tmp_path).model
    except ComposeError as exc:
        assert isinstance(theirs, str), f"we refuse what docker compose accepts: {exc.message}"
        assert "services.a" in exc.message, f"the message names the service: {exc.message}"
        return
    assert not isinstance(theirs, str), f"docker compose refuses what we accept: {theirs}"
    assert not differences(ours, theirs), differences(ours, theirs)
