"""up, re-up, change, prune, down and down -v against a real API server."""

from __future__ import annotations

import pytest

from interceptor.errors import WaitTimeout
from tests.cluster.conftest import compose_calls, down_calls, eventually, resource_versions

WEB = """
services:
  web:
    image: localhost/spin/busybox:1.35
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["127.0.0.1:18080:8080"]
    volumes: ["data:/data"]
  worker:
    image: localhost/spin/busybox:1.35
    command: ["sleep", "3600"]
    environment:
      QUEUE: default
volumes:
  data: {}
"""


def up(backend, tmp_path, ref, compose, name="compose.yaml"):
    calls = compose_calls(tmp_path, compose, ref, backend.existing_objects(ref), name=name)
    return {(r.kind, r.name): r.action for r in backend.apply(ref, calls)}


def test_up_creates_the_project_namespace_and_its_objects(kube, backend, projects, tmp_path):
    ref = projects.new("up")
    actions = up(backend, tmp_path, ref, WEB)
    assert actions[("Namespace", ref.namespace)] == "created"
    assert actions[("Deployment", "web")] == "created"
    assert actions[("PersistentVolumeClaim", "data")] == "created"
    ns = kube.admin().get(f"/api/v1/namespaces/{ref.namespace}", "read")
    assert ns["metadata"]["labels"]["spin.io/project"] == ref.project
    assert ns["metadata"]["labels"]["spin.io/owner"] == "alice"
    info = backend.existing(ref)
    assert (info.owner, info.facility_project, info.services) == ("alice", "astro", ["web", "worker"])
    dep = kube.admin().get(f"/apis/apps/v1/namespaces/{ref.namespace}/deployments/web", "read")
    managers = {m["manager"] for m in dep["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"spin"}
