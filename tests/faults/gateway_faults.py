"""`spin` (a gateway process) with faults armed at run time, for tests that kill or slow a replica mid-apply.

    python -m tests.faults.gateway_faults gateway serve ...      (cwd: the repository)
    or any `spin` command with `environment(faults_file)` (reaches uvicorn's `--workers` processes too)

Before each object a backend writes, the process reads the JSON file SPIN_FAULTS_FILE (if it exists):
- {"slow": 1.5}: sleep that long before writing each object (a slow apply another replica must wait for);
- {"die_at": 3}: SIGKILL itself just before writing the 3rd object of an `up` (1 = before the first);
- {"die_at": "after"}: SIGKILL itself once the backend has applied every object, before the gateway
  records that it finished;
- {"fail_at": 2}: the 2nd object's write fails as a full disk or a failing API server fails it.
The file is read each time, so a test arms a fault on a running replica. Nothing of this ships: the
process is the real `spin gateway serve`, with two backend functions wrapped.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path


def _faults() -> dict:
    path = os.environ.get("SPIN_FAULTS_FILE")
    try:
        return json.loads(Path(path).read_text()) if path else {}
    except (OSError, ValueError):
        return {}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def environment(faults_file: Path, scratch: Path) -> dict[str, str]:
    """The environment of a `spin` process with the faults armed: a sitecustomize that arms them, so the
    processes uvicorn spawns for `--workers` are armed as well."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "sitecustomize.py").write_text("from tests.faults.gateway_faults import arm\narm()\n")
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (str(scratch), root, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "SPIN_FAULTS_FILE": str(faults_file)}


def arm() -> None:
    if getattr(arm, "done", False):
        return
    arm.done = True  # type: ignore[attr-defined]
    from spin_gateway.backends import kubernetes, manifests
    from spin_gateway.vocabulary.errors import KubeApiError

    count = {"n": 0}

    def before_object(failure: Exception) -> None:
        faults = _faults()
        count["n"] += 1
        if faults.get("slow"):
            time.sleep(float(faults["slow"]))
        if faults.get("die_at") == count["n"]:
            _die()
        if faults.get("fail_at") == count["n"]:
            raise failure

    real_apply_one = kubernetes.KubernetesBackend._apply_one

    def apply_one(self, resource, obj, current):
        before_object(KubeApiError("Kubernetes refused to apply: injected fault", status=500,
                                   reason="InternalError"))
        return real_apply_one(self, resource, obj, current)

    real_filename = manifests._filename

    def filename(obj):  # called once per object the manifests backend writes, inside its error handling
        before_object(OSError(errno.ENOSPC, "No space left on device"))
        return real_filename(obj)

    def wrap_apply(cls):
        real = cls.apply

        def apply(self, ref, calls):
            count["n"] = 0
            results = real(self, ref, calls)
            if _faults().get("die_at") == "after":
                _die()
            return results

        cls.apply = apply

    kubernetes.KubernetesBackend._apply_one = apply_one  # type: ignore[method-assign]
    manifests._filename = filename
    wrap_apply(kubernetes.KubernetesBackend)
    wrap_apply(manifests.ManifestsBackend)


if __name__ == "__main__":
    arm()
    from spin_gateway.cli.main import main

    main()
