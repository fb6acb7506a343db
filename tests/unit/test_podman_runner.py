"""Every podman command the backend runs goes through PodmanRunner: one timeout, one 'not installed' error.

Before, a volume check and the network checks called podman directly: on a machine without podman an `up`
with a volume failed with a bare FileNotFoundError (an InternalError 500) instead of PodmanError's hint,
and the network checks had no timeout at all.
"""

from __future__ import annotations

import time

import pytest

from spin_gateway.backends.base import ProjectRef
from spin_gateway.backends.podman import PodmanBackend, PodmanRunner
from spin_gateway.vocabulary.errors import PodmanError
from spin_gateway.vocabulary.types import Call

REF = ProjectRef("demo", "demo", "alice", "astro")
PVC = Call(id="001-pvc-data", operation="CREATE", object={
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "demo"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})

POD = Call(id="002-pod-web", operation="CREATE", object={
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "demo"},
    "spec": {"containers": [{"name": "web", "image": "localhost/spin/busybox:1.35"}]}})


def _backend(tmp_path, **runner) -> PodmanBackend:
    return PodmanBackend(runner=PodmanRunner(**runner), files_root=tmp_path / "files")


def test_a_volume_on_a_machine_without_podman_is_a_podman_error_with_the_install_hint(tmp_path):
    backend = _backend(tmp_path, binary=str(tmp_path / "no-podman-here"))
    with pytest.raises(PodmanError) as info:
        backend.apply(REF, [PVC])
    assert "podman is not installed" in info.value.message and "install" in info.value.hint


def test_an_up_against_a_podman_that_never_answers_ends_at_the_runners_timeout(tmp_path):
    # The ownership checks (pod, then network) come first for a workload; podman was once waited for with no limit.
    hung = tmp_path / "podman"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    backend = _backend(tmp_path, binary=str(hung), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PodmanError, match=r"podman (pod|network) did not finish within 0\.5s"):
        backend.apply(REF, [POD])
    assert time.monotonic() - started < 10
