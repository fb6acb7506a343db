"""Key rings: the token-signing keys and the audit HMAC keys, each with a key id, read from files that may change.

A ring is a file or a folder:

- a **file** holds one key; its id is derived from the key (`sha256:` and the first 12 hex digits of the
  key's SHA-256), so every replica reading the same file names the key alike;
- a **folder** (a mounted Kubernetes Secret) holds one key per file, the file's name (less a `.key` suffix)
  being the key id, and a file `current` naming the id that signs now. The other keys still verify: a
  rotation adds the new key, points `current` at it, and removes the old key only once nothing signed
  with it is needed any more (tokens: when they expired; audit: never, while its records are kept).

Kubelet rotates a mounted Secret by writing a new timestamped folder and swapping the `..data` symlink;
`RingSource` notices that (the resolved paths and their inodes change) and reads the ring again. Names
starting with `.` (kubelet's own entries) are not keys.

The shared part lives here because three parts read rings: the gateway's token signer, the audit writer
and `spin audit verify`; none of them may depend on another for it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from spin_gateway.vocabulary.errors import UsageError

log = logging.getLogger("spin.keys")

#: Key ids as they appear in a token header (`kid`) and in audit records (`key_id`).
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MIN_KEY_BYTES = 32
CURRENT = "current"


def fingerprint(key: bytes) -> str:
    """The key id of a key kept on its own in a file."""
    return "sha256:" + hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True)
class KeyRing:
    """The keys by id, and the id of the one that signs (or MACs) now."""

    current: str
    keys: dict[str, bytes]

    @property
    def key(self) -> bytes:
        return self.keys[self.current]

    @classmethod
    def single(cls, key: bytes) -> KeyRing:
        kid = fingerprint(key)
        return cls(kid, {kid: key})


def _read_key(path: Path, what: str) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}",
                         hint="Check the path and that the gateway may read it.") from None
    if len(key) < MIN_KEY_BYTES:
        # Never echo the key, only its length.
        raise UsageError(f"the {what} {path} is too short ({len(key)} bytes; at least {MIN_KEY_BYTES})",
                         hint="Make it with: head -c 32 /dev/urandom | base64")
    return key


def read_ring(path: str | Path, what: str = "key") -> KeyRing:
    """The ring a file or folder holds; a UsageError naming the file and what is wrong with it otherwise."""
    path = Path(path)
    if not path.is_dir():
        return KeyRing.single(_read_key(path, what))
    keys: dict[str, bytes] = {}
    current: str | None = None
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        if entry.name == CURRENT:
            try:
                current = entry.read_text().strip()
            except OSError as exc:
                raise UsageError(f"cannot read {entry}: {exc.strerror}") from None
            continue
        kid = entry.name.removesuffix(".key")
        if not KEY_ID.match(kid):
            raise UsageError(f"the {what} file {entry} is not named by a key id (letters, digits, . _ : -)",
                             hint="Name each key file by its id, e.g. 2026-12.key.")
        keys[kid] = _read_key(entry, what)
    if not keys:
        raise UsageError(f"the {what} folder {path} holds no keys", hint="Put one key per file, named by its id.")
    if current is None:
        if len(keys) > 1:
            raise UsageError(f"the {what} folder {path} holds {len(keys)} keys but no file `current` naming the "
                             "one to sign with", hint="Add a file `current` holding the key id that signs now.")
        current = next(iter(keys))
    if current not in keys:
        raise UsageError(f"`current` in {path} names key id {current!r}, which the folder does not hold",
                         hint=f"It holds: {', '.join(sorted(keys))}.")
    return KeyRing(current, keys)


def file_state(path: Path) -> tuple:
    """What changes when the ring is rewritten or a mounted Secret's `..data` is swapped."""
    try:
        if path.is_dir():
            return tuple((e.name, os.path.realpath(e), *_stat(e)) for e in sorted(path.iterdir())
                         if not e.name.startswith("."))
        return (os.path.realpath(path), *_stat(path))
    except OSError:
        return ("unreadable",)


def _stat(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class RingSource:
    """A ring read from its path again when it changes, looked at most every `interval` seconds.

    `get()` is cheap (a clock read) between looks, so it can be called on every token check and audit write.
    A ring that changed into something unreadable or invalid (a half-made rotation) is not taken: the last
    good ring stays in use and the problem is logged (never a key), and it is tried again at the next look.
    """

    def __init__(self, path: str | Path, what: str = "key", interval: float = 1.0):
        self.path, self.what, self.interval = Path(path), what, interval
        self._lock = threading.Lock()
        self._state = file_state(self.path)
        self.ring = read_ring(self.path, what)  # at start a bad ring stops the gateway
        self._looked = time.monotonic()
        self.version = 0  # counts the rings taken

    def get(self) -> KeyRing:
        if time.monotonic() - self._looked >= self.interval:
            self.refresh()
        return self.ring

    def refresh(self) -> bool:
        """Look now; True if a new ring was taken."""
        with self._lock:
            self._looked = time.monotonic()
            state = file_state(self.path)
            if state == self._state:
                return False
            try:
                ring = read_ring(self.path, self.what)
            except UsageError as exc:
                log.warning("%s at %s changed but cannot be used (%s); still using key %s",
                            self.what, self.path, exc.message, self.ring.current)
                return False
            self._state, self.ring = state, ring
            self.version += 1
            log.info("%s at %s reloaded: signing with key id %s, %d key(s) held",
                     self.what, self.path, ring.current, len(ring.keys))
            return True


__all__ = ["KEY_ID", "KeyRing", "RingSource", "file_state", "fingerprint", "read_ring"]
