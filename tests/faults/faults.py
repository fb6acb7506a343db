"""Fault injection around the real parts: a backend that fails on its Nth object, engines that raise or hang.

Each wrapper keeps the real thing doing the real work up to the fault, so what
is left behind (files, pods) is what a real failure part-way leaves.
"""

from __future__ import annotations

import errno
import threading
import types
from typing import Any

from spin_gateway.backends import manifests as manifests_module
from spin_gateway.backends.podman import PodmanRunner
from spin_gateway.vocabulary.errors import PodmanError


class FailOnNthWrite:
    """The real manifests backend, whose Nth object write fails as a full disk fails it (ENOSPC).

    The first N-1 objects are really written; the backend's own error handling turns the fault into
    a ForwardError, as it would on a real full disk.
    """

    def __init__(self, inner: manifests_module.ManifestsBackend, n: int):
        self.inner = inner
        self.n = n
        self.name = inner.name
        self.writes = 0

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def apply(self, ref, calls):
        real_os = manifests_module.os

        def replace(src, dst):
            self.writes += 1
            if self.writes == self.n:
                real_os.unlink(src)
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_os.replace(src, dst)

        names = {k: getattr(real_os, k) for k in dir(real_os) if not k.startswith("__")}
        manifests_module.os = types.SimpleNamespace(**{**names, "replace": replace})
        try:
            return self.inner.apply(ref, calls)
        finally:
            manifests_module.os = real_os


class FailOnNthDelete:
    """The real manifests backend, whose Nth file removal fails (EIO): its delete does not wrap that error."""

    def __init__(self, inner: manifests_module.ManifestsBackend, n: int):
        self.inner = inner
        self.n = n
        self.name = inner.name
        self.deletes = 0

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def delete(self, ref, calls, volumes):
        real_unlink = manifests_module.Path.unlink

        def unlink(path, missing_ok=False):
            self.deletes += 1
            if self.deletes == self.n:
                raise OSError(errno.EIO, "Input/output error", str(path))
            return real_unlink(path, missing_ok=missing_ok)

        manifests_module.Path.unlink = unlink
        try:
            return self.inner.delete(ref, calls, volumes)
        finally:
            manifests_module.Path.unlink = real_unlink


class FailingPodmanRunner(PodmanRunner):
    """Real podman, except that the Nth `podman kube play` fails as podman fails (PodmanError)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n
        self.plays = 0

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        if args[:2] == ("kube", "play"):
            self.plays += 1
            if self.plays == self.n:
                raise PodmanError(f"podman kube play failed: injected fault (play number {self.n})")
        return super().__call__(*args, stdin=stdin, check=check)


class RaisingEngine:
    """The real embedded engine, raising on every evaluation from the Nth on (a bug, a crash in the bindings)."""

    def __init__(self, inner, n: int = 1, exc: Exception | None = None):
        self.inner = inner
        self.name = inner.name
        self.bundle = inner.bundle
        self.n = n
        self.calls = 0
        self.exc = exc or RuntimeError("engine crashed")

    def evaluate(self, policy_input):
        self.calls += 1
        if self.calls >= self.n:
            raise self.exc
        return self.inner.evaluate(policy_input)

    def close(self):
        self.inner.close()


class HangingEngine:
    """The real embedded engine, never answering until released (a policy stuck in a loop, a dead OPA server)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.bundle = inner.bundle
        self.calls = 0
        self.release = threading.Event()

    def evaluate(self, policy_input):
        self.calls += 1
        self.release.wait()
        return self.inner.evaluate(policy_input)

    def close(self):
        self.release.set()
        self.inner.close()
