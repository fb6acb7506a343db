"""The manifests backend: approved objects written to a folder, one YAML file per object.

For facilities that hand the approved objects to their own GitOps pipeline,
for dry runs on a laptop, and for benchmarks (no container runtime in the way).
Writes are atomic (temp file + rename) and idempotent (the same object, or the same bytes -> unchanged).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from spin_gateway.backends.base import ProjectInfo, ProjectRef
from spin_gateway.vocabulary.errors import ForwardError, UsageError, WaitTimeout
from spin_gateway.vocabulary.labels import LABEL_FACILITY_PROJECT, LABEL_OWNER, LABEL_SERVICE
from spin_gateway.vocabulary.types import Action, Call, CallResult, ExecResult, ServiceStatus

# libyaml's C parser and emitter where PyYAML has them (its wheels do): with the pure-Python ones,
# YAML was a third of the gateway's busy time under load (docs/performance.md). Same safe subset.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


#: Parsed files kept, keyed by what stat says of them: an `up` reads every file of its project two or three
#: times (owner, existing objects, unchanged or not), and a job array `up`s the same project hundreds of times.
PARSED_CACHE_FILES = 4096


def _filename(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


class ManifestsBackend:
    name = "manifests"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._parsed: OrderedDict[str, tuple[tuple[int, ...], dict[str, Any]]] = OrderedDict()
        self._parsed_lock = threading.Lock()

    def _load(self, path: Path) -> dict[str, Any]:
        """One file's object, parsed again only when the file changed (another inode, size or time).

        Callers here only read the objects they get."""
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        key = str(path)
        with self._parsed_lock:
            hit = self._parsed.get(key)
            if hit is not None and hit[0] == stamp:
                self._parsed.move_to_end(key)
                return hit[1]
        obj = yaml.load(path.read_text(), Loader=_Loader)
        with self._parsed_lock:
            self._parsed[key] = (stamp, obj)
            while len(self._parsed) > PARSED_CACHE_FILES:
                self._parsed.popitem(last=False)
        return obj

    def _dir(self, ref: ProjectRef) -> Path:
        # namespace names are DNS-1123 labels (checked by the gateway), so this never leaves root
        return self.root / ref.namespace

    def _read(self, ref: ProjectRef) -> list[dict[str, Any]]:
        folder = self._dir(ref)
        if not folder.is_dir():
            return []
        return [self._load(p) for p in sorted(folder.glob("*.yaml"))]

    def existing(self, ref: ProjectRef) -> ProjectInfo | None:
        objects = self._read(ref)
        ns = next((o for o in objects if o["kind"] == "Namespace"), None)
        if not objects:
            return None
        labels = (ns or objects[0]).get("metadata", {}).get("labels", {})
        return ProjectInfo(ref.project, ref.namespace, labels.get(LABEL_OWNER, ""), labels.get(LABEL_FACILITY_PROJECT, ""),
                           sorted({o["metadata"].get("labels", {}).get(LABEL_SERVICE, "") for o in objects} - {""}))

    def existing_objects(self, ref: ProjectRef) -> set[tuple[str, str]]:
        return {(o["kind"], o["metadata"]["name"]) for o in self._read(ref)}

    def list_projects(self) -> list[ProjectInfo]:
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            info = self.existing(ProjectRef(folder.name, folder.name))
            if info:
                out.append(info)
        return out

    def apply(self, ref: ProjectRef, calls: list[Call]) -> list[CallResult]:
        folder = self._dir(ref)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            results, wanted = [], set()
            for call in calls:
                target = folder / _filename(call.object)
                wanted.add(target.name)
                if target.exists() and self._load(target) == call.object:  # what the file holds, parsed
                    results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action="unchanged"))
                    continue
                text = yaml.dump(call.object, Dumper=_Dumper, sort_keys=True)
                if target.exists() and target.read_text() == text:
                    results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action="unchanged"))
                    continue
                action: Action = "configured" if target.exists() else "created"
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
                os.replace(tmp, target)
                results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action=action,
                                          message=str(target)))
            for stale in folder.glob("*.yaml"):
                if stale.name not in wanted and ref.keep_services and _service_of_file(stale) in ref.keep_services:
                    continue  # an orphaned service's object the up keeps (the gateway's notice says so)
                if stale.name not in wanted:
                    stale.unlink()
                    results.append(CallResult(call_id="prune", kind="file", name=stale.name, action="deleted"))
            return results
        except OSError as exc:
            raise ForwardError(f"cannot write manifests to {folder}: {exc.strerror}") from None

    def delete(self, ref: ProjectRef, calls: list[Call], volumes: bool) -> list[CallResult]:
        """Remove exactly the files of the approved DELETE calls; what was written since the plan stays."""
        held = {(o["kind"], o["metadata"]["name"]): o for o in self._read(ref)}
        results = []
        for call in calls:
            obj = held.pop((call.kind, call.name), None)
            if obj is not None and call.kind == "Namespace" and held:
                # As on a cluster: the namespace goes only with the last object in it (a kept volume keeps it).
                held[(call.kind, call.name)] = obj
                results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action="skipped",
                                          message="the project still holds objects"))
            elif obj is None:
                results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action="absent"))
            elif call.kind == "PersistentVolumeClaim" and not volumes:
                held[(call.kind, call.name)] = obj
                results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action="skipped",
                                          message="volume kept; `spin down -v` removes it"))
            else:
                (self._dir(ref) / _filename(obj)).unlink(missing_ok=True)
                results.append(CallResult(call_id=call.id, kind=call.kind, name=call.name, action="deleted"))
        for kind, name in sorted(held):
            if kind != "PersistentVolumeClaim" or volumes:
                results.append(CallResult(call_id="down", kind=kind, name=name, action="skipped",
                                          message="not in the approved plan"))
        folder = self._dir(ref)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        return results

    def status(self, ref: ProjectRef) -> list[ServiceStatus]:
        out = []
        for obj in self._read(ref):
            if obj["kind"] in {"Deployment", "StatefulSet"}:
                replicas = obj.get("spec", {}).get("replicas", 1)
                out.append(ServiceStatus(service=obj["metadata"].get("labels", {}).get(LABEL_SERVICE, obj["metadata"]["name"]),
                                         kind=obj["kind"], ready=replicas, desired=replicas, state="written",
                                         message="written to the manifests folder; nothing runs it here"))
        return out

    def wait(self, ref: ProjectRef, timeout: float) -> list[ServiceStatus]:
        statuses = self.status(ref)
        if not statuses and not self._read(ref):
            raise WaitTimeout(f"project {ref.project} has no manifests")
        return statuses

    def logs(self, ref: ProjectRef, service: str | None, tail: int | None, since: str | None,
             timestamps: bool = False) -> Iterator[str]:
        return iter(())

    def lifecycle(self, ref: ProjectRef, action: str, services: list[str]) -> list[CallResult]:
        raise UsageError(f"the manifests backend writes files and runs nothing, so there is nothing to {action}",
                         hint="Run the gateway with --backend podman or kubernetes to run projects.")

    def exec(self, ref: ProjectRef, service: str, command: list[str], timeout: float) -> ExecResult:
        raise UsageError("the manifests backend writes files and runs nothing, so nothing can be run in a service",
                         hint="Run the gateway with --backend podman or kubernetes to run projects.")


def _service_of_file(path: Path) -> str | None:
    """The compose service a written object belongs to (its spin.io/service label), None if it names none."""
    try:
        obj = yaml.load(path.read_text(), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        return None
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {} if isinstance(obj, dict) else {}
    return labels.get(LABEL_SERVICE)
