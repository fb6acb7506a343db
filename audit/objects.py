"""What was submitted and decided, kept beside the audit log: content-addressed, secrets redacted.

Records name objects and never copy them (records.py); this store keeps the
objects themselves so `spin audit show REQUEST` can say exactly what a request
asked for (the canonical compose model) and what the policy decided (each
object as patched). Each is stored once under the SHA-256 of its canonical
JSON, in `<audit log>.objects/<2 hex>/<64 hex>.json`, written (not fsynced)
before the records that name it; the records, fsynced, carry the digests.

Secrets never reach the store: a Secret's `data`/`stringData` values, the
content of compose secrets, environment values (of containers and of compose
services) and build arguments are replaced by REDACTED before hashing. Names
and keys stay, so the shape of what ran can still be compared.

Retention follows the log: `prune` removes every object no record left in the
log (after rotated files were archived or removed) names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spin_gateway.vocabulary.errors import AuditError, NotFound

REDACTED = "<redacted>"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _redact_env(env: Any) -> Any:
    if isinstance(env, list):  # Kubernetes env: [{name, value}] (valueFrom names a source, no value: kept)
        return [{**e, "value": REDACTED} if isinstance(e, dict) and "value" in e else
                (e.split("=", 1)[0] + "=" + REDACTED if isinstance(e, str) and "=" in e else e) for e in env]
    if isinstance(env, dict):  # compose: {NAME: value}
        return {k: (REDACTED if v is not None else None) for k, v in env.items()}
    return env


def redact(obj: Any) -> Any:
    """A copy with every secret value replaced; the rest (names, keys, structure) untouched."""
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    secret_kind = obj.get("kind") == "Secret"
    for key, value in obj.items():
        if secret_kind and key in ("data", "stringData") and isinstance(value, dict):
            out[key] = {k: REDACTED for k in value}
        elif (key == "env" and isinstance(value, list)) or (key == "environment" and isinstance(value, dict | list)):
            out[key] = _redact_env(value)
        elif key == "build" and isinstance(value, dict) and "args" in value:  # compose build arguments
            out[key] = {**redact({k: v for k, v in value.items() if k != "args"}), "args": _redact_env(value["args"])}
        elif key == "secrets" and isinstance(value, dict):  # the compose model's top-level secrets: their content
            out[key] = {name: ({**s, "content": REDACTED} if isinstance(s, dict) and "content" in s else redact(s))
                        for name, s in value.items()}
        else:
            out[key] = redact(value)
    return out


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def digest_of(obj: Any) -> str:
    """The digest a record names for this object (of its redacted form)."""
    return hashlib.sha256(canonical(redact(obj))).hexdigest()


class ObjectStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def beside(cls, audit_log: str | Path) -> ObjectStore:
        # A folder of chains (one per replica) shares one store: objects are content-addressed.
        if Path(audit_log).is_dir():
            return cls(Path(audit_log) / "objects")
        return cls(f"{audit_log}.objects")

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def put(self, obj: Any) -> str:
        """Store the redacted object (once per content); its digest. AuditError if it cannot be kept."""
        raw = canonical(redact(obj))
        digest = hashlib.sha256(raw).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Unique per writer, not per process: two threads storing the same object (a job array's identical
            # `up`s on one replica) must not rename each other's temporary file away.
            tmp = path.with_name(f".{digest}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, raw)
            finally:
                os.close(fd)
            # Not fsynced: two fsyncs per object would double an up's disk waits (issue 18). The records, which
            # are fsynced, carry the digests: an object lost to a power cut shows as `missing`, never as another.
            os.replace(tmp, path)
        except OSError as exc:
            raise AuditError(f"cannot keep the decided object beside the audit log in {self.root}: {exc.strerror}",
                             hint="Nothing was forwarded; free space or fix the folder's permissions.") from None
        return digest

    def put_many(self, objects: Iterable[Any]) -> list[str]:
        return [self.put(o) for o in objects]

    def get(self, digest: str) -> Any:
        if not _DIGEST.match(digest or ""):
            raise NotFound(f"{digest!r} is not an object digest")
        try:
            return json.loads(self._path(digest).read_bytes())
        except FileNotFoundError:
            raise NotFound(f"object {digest} is no longer kept (pruned with the log records that named it)") from None

    def digests(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {p.stem for p in self.root.glob("??/*.json") if _DIGEST.match(p.stem)}

    def prune(self, named: set[str]) -> int:
        """Remove the objects no remaining record names; how many were removed."""
        removed = 0
        for digest in self.digests() - named:
            try:
                self._path(digest).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed


def named_digests(records: Iterable[dict[str, Any]]) -> set[str]:
    """Every object digest the records name (the model of a request and each decided object)."""
    found: set[str] = set()
    for r in records:
        if isinstance(r.get("model_digest"), str):
            found.add(r["model_digest"])
        obj = r.get("object")
        if isinstance(obj, dict) and isinstance(obj.get("digest"), str):
            found.add(obj["digest"])
    return found
