"""TLS for the gateway's port (the API server calls admission webhooks over TLS only), reloaded when the files change.

Certificates are short-lived where they come from (cert-manager, a facility CA) and are renewed in place. A
restart to pick them up would drop the webhook for a moment, which fail-closed admission turns into refused
calls. So each handshake first asks whether the certificate or key file changed (a stat, at most once a
second); if so, both are read once, checked together in a fresh SSLContext, and that context serves this and
later handshakes (the handshake's own `context` is switched in OpenSSL's server-name callback, which runs for
every ClientHello, with or without SNI). A live context is never changed in place, so no handshake can see a
certificate with another key. A pair that does not load (half-written, mismatched) is not taken: the last
good pair keeps serving and the refusal is logged; the next change is tried again.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from spin_gateway.vocabulary.errors import UsageError

log = logging.getLogger("spin.gateway.tls")

#: How often a handshake may look at the files: a stat of each, at most this often.
CHECK_INTERVAL = 1.0


def _stamp(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


def _load(cert: bytes, key: bytes) -> ssl.SSLContext:
    """A server context from the PEM bytes (read once: the files may change again while they are loaded)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory(prefix="spin-tls-") as folder:  # 0700: the key never sits readable
        cert_path, key_path = Path(folder, "tls.crt"), Path(folder, "tls.key")
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        context.load_cert_chain(cert_path, key_path)
    return context


class ReloadingCertificate:
    def __init__(self, cert: Path, key: Path, *, interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic):
        self.cert, self.key = Path(cert), Path(key)
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = clock()
        self.reloads = 0
        self.last_error: str | None = None
        try:
            self._stamps = (_stamp(self.cert), _stamp(self.key))
            self._current = _load(self.cert.read_bytes(), self.key.read_bytes())
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"--tls-cert {self.cert} / --tls-key {self.key} do not load: {exc}",
                             hint="Pass a PEM certificate (chain) and its unencrypted PEM key.") from None
        # The context the listening socket holds: it only hands each handshake the current one.
        self.context = self._current
        self.context.sni_callback = self._on_hello

    def current(self) -> ssl.SSLContext:
        """The context new handshakes get, after looking at the files (at most once per interval)."""
        now = self._clock()
        if now - self._checked < self.interval:
            return self._current
        with self._lock:
            if now - self._checked < self.interval:
                return self._current
            self._checked = now
            try:
                stamps = (_stamp(self.cert), _stamp(self.key))
            except OSError as exc:  # moved away mid-rotation: keep serving, look again next time
                self._refuse(f"cannot stat: {exc}")
                return self._current
            if stamps == self._stamps:
                return self._current
            try:
                fresh = _load(self.cert.read_bytes(), self.key.read_bytes())
            except (OSError, ssl.SSLError) as exc:
                self._refuse(str(exc))
                return self._current  # the stamps stay old: the next change (the key arriving) is tried again
            self._stamps, self._current = stamps, fresh
            self.reloads += 1
            self.last_error = None
            log.warning("TLS certificate reloaded from %s", self.cert)
            return fresh

    def _refuse(self, reason: str) -> None:
        if reason != self.last_error:
            log.warning("TLS certificate %s not reloaded (the previous one keeps serving): %s", self.cert, reason)
        self.last_error = reason

    def _on_hello(self, sslobj: Any, server_name: str | None, context: ssl.SSLContext) -> None:
        try:
            current = self.current()
            if current is not context:
                sslobj.context = current
        except Exception:  # never fail a handshake over the reload itself: the old certificate serves it
            log.exception("TLS reload check failed")
        return None


def context_factory(cert: Path, key: Path, _config: Any = None, _default: Any = None) -> ssl.SSLContext:
    """For uvicorn's `ssl_context_factory` (a partial of it is picklable, so every --workers process has its own)."""
    return ReloadingCertificate(cert, key).context


def uvicorn_ssl(cert: Path | None, key: Path | None) -> dict[str, Any]:
    """The uvicorn.run arguments for serving TLS from these files (none without a certificate)."""
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together")
    ReloadingCertificate(cert, key)  # refuse a pair that does not load now, before binding the port
    return {"ssl_context_factory": partial(context_factory, Path(cert).resolve(), Path(key).resolve())}
