"""Identical calls decided once: a bounded LRU of decisions keyed by (revision, input).

A job array sends the same compose file for the same user hundreds of times within a minute, and
every one of its calls is the same policy input. When the library is a pure function of its
revision (which digests the modules and the site data) and the input (policy/determinism.py), the
answer to an input seen before is the answer it got then. The whole input is the key, so the
identity (user, uid, groups, projects), the project, the namespace and the dry-run flag are all in
it: two users never share a decision, nor do two projects.

One cache belongs to one engine: a reload builds a new engine and with it an empty cache.
Failures (timeouts, engine errors) are never cached: they say nothing about the input.

A job array's prologues arrive together, so the first wave would all miss and all evaluate the same
inputs: a miss claims its key, and identical decisions asked meanwhile wait for that one evaluation
instead of repeating it (if it fails, each of them evaluates for itself).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

#: Entries kept: a 10-service project is about 32 inputs (22 calls, 10 of them patched and decided again),
#: so this holds the last ~250 distinct projects; an entry is a few KB.
DEFAULT_SIZE = 8192


class DecisionCache:
    def __init__(self, revision: str, site: Any, size: int = DEFAULT_SIZE):
        self.revision = revision
        self.size = size
        # The site data's canonical form once per cache (per engine), not per decision.
        self._prefix = hashlib.sha256(revision.encode() + b"\0" + json.dumps(
            site, sort_keys=True, separators=(",", ":"), default=str).encode() + b"\0")
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}  # keys being evaluated now
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def key(self, policy_input: Any) -> str:
        digest = self._prefix.copy()
        digest.update(json.dumps(policy_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                 default=str).encode())
        return "sha256:" + digest.hexdigest()

    def get_or_claim(self, key: str, wait: float) -> tuple[Any, bool]:
        """(value, False) on a hit, waiting up to `wait` seconds for an identical evaluation in flight;
        (None, True) when the caller is to evaluate and then put() or release() the key; (None, False)
        when it should evaluate without the cache (the one in flight failed or took too long)."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return value, False
            pending = self._pending.get(key)
            if pending is None:
                self._pending[key] = threading.Event()
                self.misses += 1
                return None, True
        pending.wait(wait)
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self.hits += 1
                return value, False
            self.misses += 1
            return None, False

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            pending = self._pending.pop(key, None)
        if pending is not None:
            pending.set()

    def release(self, key: str) -> None:
        """The claimed evaluation failed: whoever waits for it evaluates for itself."""
        with self._lock:
            pending = self._pending.pop(key, None)
        if pending is not None:
            pending.set()

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._entries), "size": self.size, "hits": self.hits, "misses": self.misses}
