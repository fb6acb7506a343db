"""The LDAP identity source (ldap3): posixAccount users, posixGroup groups, projects by a configured rule.

- Servers are tried in order (an ldap3 ServerPool, FIRST, one cycle): the second URL
  answers when the first is down, and a server that comes back is used again. A server
  that timed out (hung) is put last for slow_server_seconds.
- Searches run on a small pool of connections bound as the gateway's read account;
  a pooled connection the server dropped is replaced once, transparently.
- Every network wait is bounded: connect_timeout per server, receive_timeout per
  answer. Down or hung LDAP is IdentityUnavailable (HTTP 503 with a hint), never a hang.
- authenticate() binds as the user's own DN with the given password, on a connection
  of its own that is closed at once. The password is never stored, cached or logged;
  an empty one is refused before LDAP sees it (LDAP would take it as an anonymous bind).
- Lookups are cached for cache_ttl seconds (tokens are verified on every request).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import ssl
import threading
import time
from collections.abc import Iterator

from ldap3 import FIRST, NONE, SUBTREE, Connection, Server, ServerPool, Tls, set_config_parameter
from ldap3.core import exceptions as lx
from ldap3.protocol.sasl.sasl import sasl_prep
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from spin_gateway.gateway_api.identity.cache import TtlCache
from spin_gateway.gateway_api.identity.ldap_config import (
    GroupEntry,
    LdapConfig,
    child_named,
    is_project,
    named,
    same_dn,
)
from spin_gateway.vocabulary.errors import AuthError, IdentityUnavailable, LoginRefused, NotFound, UsageError
from spin_gateway.vocabulary.keys import file_state
from spin_gateway.vocabulary.text import printable
from spin_gateway.vocabulary.types import Group, Identity

# ldap3's ServerPool sleeps this long after every cycle over its servers, even after
# the last one it is allowed: pure added latency before the 503. (A process-wide setting.)
set_config_parameter("POOLING_LOOP_TIMEOUT", 0)

_log = logging.getLogger(__name__)

# invalidCredentials, inappropriateAuthentication: the password (the caller's input) was refused.
_REFUSED_CREDENTIALS = (49, 48)
_WRONG = "wrong user name or password"
#: Seconds between looks at the bind password file.
PASSWORD_POLL = 1.0

_HINT_DOWN = ("The facility's LDAP service did not answer in time; try again shortly. "
              "Administrators: check the servers in the gateway's LDAP config.")


class _UserEntry:
    __slots__ = ("dn", "gid", "name", "uid")

    def __init__(self, dn: str, name: str, uid: int, gid: int):
        self.dn, self.name, self.uid, self.gid = dn, name, uid, gid


def _first(attrs: dict, name: str) -> str | None:
    for key, values in attrs.items():
        if key.lower() == name.lower() and values:
            v = values[0]
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return None


def _all(attrs: dict) -> dict[str, list[str]]:
    return {k: [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in vs] for k, vs in attrs.items()}


def _plausible_name(username: str) -> bool:
    return 0 < len(username) <= 256 and username.isprintable()


class LdapProvider:
    name = "ldap"

    def __init__(self, config: LdapConfig, *, admin_group: str | None = None):
        self.config = config
        self.admin_group = config.admin_group or admin_group or "spin-admins"
        # Pinned by DN: only this entry makes administrators, wherever else a group of its name appears.
        self.admin_group_dn = config.admin_group_dn or f"cn={escape_rdn(self.admin_group)},{config.group_base}"
        if not named(self.admin_group_dn, self.admin_group):
            # The Rego rules read admin from the group's name: a DN of another name would never count.
            raise UsageError(f"admin_group_dn {self.admin_group_dn} is not named cn={self.admin_group}, "
                             f"the admin group of the LDAP config or the site data",
                             hint="Make admin_group_dn's cn the admin group's name (admin_group).")
        self.projects_parent_dn = config.projects.parent_dn or config.group_base
        tls = None
        if config.tls != "none" or any(u.startswith("ldaps://") for u in config.urls):
            tls = Tls(validate=ssl.CERT_REQUIRED if config.verify_tls else ssl.CERT_NONE,
                      ca_certs_file=str(config.ca_file) if config.ca_file else None,
                      version=ssl.PROTOCOL_TLS_CLIENT)
        servers = [Server(url, use_ssl=url.startswith("ldaps://"), tls=tls, get_info=NONE,
                          connect_timeout=config.connect_timeout) for url in config.urls]
        self._servers = servers
        # A server that timed out is tried last for a while: a hung server still accepts connections,
        # so ldap3's availability check (a connect) would keep choosing it.
        self._slow_until: dict[int, float] = {}
        self._slow_lock = threading.Lock()
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._cache: TtlCache[Identity] = TtlCache(config.cache_ttl, config.cache_size)
        # The bind password file is looked at again (a mounted Secret rotates): see _fresh_password.
        self._password_lock = threading.Lock()
        self._password_state = file_state(config.bind_password_file) if config.bind_password_file else None
        self._password_looked = time.monotonic()

    # -- the bind password, re-read when its file changes ----------------------------------------------

    def _fresh_password(self, *, force: bool = False) -> bool:
        """Take the bind password file's new content if it changed (looked at most every PASSWORD_POLL
        seconds, or now with force); True if it did. Pooled connections bound with the old one are closed,
        so every search from then on binds with the new password. An unreadable or empty new file is not
        taken (logged, never the password): the old password stays in use."""
        path = self.config.bind_password_file
        if path is None or (not force and time.monotonic() - self._password_looked < PASSWORD_POLL):
            return False
        with self._password_lock:
            self._password_looked = time.monotonic()
            state = file_state(path)
            if state == self._password_state:
                return False
            try:
                config = self.config.with_password()
            except UsageError as exc:
                _log.warning("the LDAP bind password file changed but cannot be used: %s", exc.message)
                return False
            self._password_state, self.config = state, config
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):
                conn.unbind()
        _log.info("LDAP bind password reloaded from %s", path)
        return True

    # -- connections ------------------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        return [self.config.bind_password.get_secret_value()] if self.config.bind_password else []

    @contextlib.contextmanager
    def _boundary(self, secrets: tuple[str, ...] = ()) -> Iterator[None]:
        """ldap3's network errors become IdentityUnavailable, with any password scrubbed from the text."""
        try:
            yield
        except lx.LDAPException as exc:
            text = str(exc)
            for secret in (*secrets, *self._secrets()):
                if secret:
                    text = text.replace(secret, "***")
            raise IdentityUnavailable(f"LDAP ({', '.join(self.config.urls)}) is unavailable: "
                                      f"{type(exc).__name__}: {text}"[:500], hint=_HINT_DOWN) from None

    def _pool(self) -> ServerPool:
        """The servers in order, those that timed out lately last.

        active=1: one pass over the servers (each bounded by connect_timeout), then give up;
        exhaust=False: a server found down is checked again next time, so recovery is automatic.
        """
        now = time.monotonic()
        with self._slow_lock:
            order = sorted(self._servers, key=lambda srv: self._slow_until.get(id(srv), 0.0) > now)
        # active=1: one pass over the servers, then give up (ldap3 takes a cycle count; its stubs say bool).
        return ServerPool(order, FIRST, active=1, exhaust=False)  # type: ignore[arg-type]

    def _timed_out(self, server: Server | None) -> None:
        if server is None or len(self._servers) < 2:
            return
        with self._slow_lock:
            self._slow_until[id(server)] = time.monotonic() + self.config.slow_server_seconds
        # idle connections to that server would each wait out the same silence: drop them
        keep = []
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if conn.server is server:
                with contextlib.suppress(Exception):
                    conn.unbind()
            else:
                keep.append(conn)
        for conn in keep:
            self._idle.put(conn)

    def _open(self, user: str | None, password: str | None) -> Connection:
        conn = Connection(self._pool(), user=user, password=password, read_only=True, raise_exceptions=False,
                          receive_timeout=self.config.receive_timeout, auto_referrals=False)
        try:
            conn.open()
            if self.config.tls == "starttls" and not conn.start_tls():
                conn.unbind()
                raise IdentityUnavailable("LDAP refused StartTLS", hint="Check tls/ca_file in the gateway's LDAP config.")
            conn.bind()
        except lx.LDAPCommunicationError:
            self._timed_out(conn.server)
            raise
        return conn

    def _service_connection(self) -> Connection:
        self._fresh_password()
        conn = self._open(self.config.bind_dn, self._secrets()[0] if self._secrets() else None)
        if not conn.bound and (conn.result or {}).get("result") == 49 and self._fresh_password(force=True):
            # invalidCredentials just as the password rotated: the file may be newer than our last look.
            conn.unbind()
            conn = self._open(self.config.bind_dn, self._secrets()[0] if self._secrets() else None)
        if not conn.bound:
            result = conn.result or {}
            conn.unbind()
            raise IdentityUnavailable(f"the gateway's LDAP bind as {self.config.bind_dn or '(anonymous)'} failed: "
                                      f"{result.get('description', 'unknown')}",
                                      hint="Administrators: check bind_dn and its password file or variable.")
        return conn

    def _search(self, base: str, filt: str, attributes: list[str], size_limit: int = 0) -> list[dict]:
        """Entries of a search on a pooled service connection: [{dn, attrs}]."""
        with self._boundary():
            for attempt in (0, 1):
                try:
                    conn = self._idle.get_nowait()
                    pooled = True
                except queue.Empty:
                    conn, pooled = self._service_connection(), False
                try:
                    conn.search(base, filt, SUBTREE, attributes=attributes, size_limit=size_limit,
                                time_limit=self.config.receive_timeout)
                except (lx.LDAPSessionTerminatedByServerError, lx.LDAPSocketSendError,
                        lx.LDAPSocketReceiveError) as exc:
                    with contextlib.suppress(Exception):
                        conn.unbind()
                    # A pooled connection the server closed (it restarted): one fresh try. A timeout is
                    # not retried: the caller would wait twice as long for the same silence.
                    if pooled and attempt == 0 and "timed out" not in str(exc):
                        continue
                    self._timed_out(conn.server)
                    raise
                result = conn.result or {}
                entries = [{"dn": r["dn"], "attrs": r.get("raw_attributes") or {}}
                           for r in (conn.response or []) if r.get("type") == "searchResEntry"]
                if self._idle.qsize() < self.config.pool_size:
                    self._idle.put(conn)
                else:
                    conn.unbind()
                code = result.get("result", 0)
                if code not in (0, 4):  # 4: sizeLimitExceeded, judged by the caller
                    raise IdentityUnavailable(f"LDAP search under {base} failed: {result.get('description')} "
                                              f"({code}) {result.get('message', '')}".strip(),
                                              hint="Administrators: check the bases and filters in the LDAP config.")
                return entries
        raise AssertionError("unreachable")

    # -- directory reads -----------------------------------------------------------------------------

    def _find_user(self, username: str) -> _UserEntry | None:
        cfg = self.config
        filt = f"(&{cfg.user_filter}({cfg.user_attribute}={escape_filter_chars(username)}))"
        entries = self._search(cfg.user_base, filt, [cfg.user_attribute, "uidNumber", "gidNumber"], size_limit=2)
        if not entries:
            return None
        if len(entries) > 1:
            raise IdentityUnavailable(f"more than one LDAP entry has {cfg.user_attribute}={username}",
                                      hint="Administrators: make user names unique or narrow user_filter.")
        attrs = entries[0]["attrs"]
        try:
            return _UserEntry(entries[0]["dn"], _first(attrs, cfg.user_attribute) or username,
                              int(_first(attrs, "uidNumber") or ""), int(_first(attrs, "gidNumber") or ""))
        except ValueError:
            raise IdentityUnavailable(f"the LDAP entry {entries[0]['dn']} has no numeric uidNumber/gidNumber",
                                      hint="Administrators: users need the posixAccount attributes.") from None

    def _groups(self, user: _UserEntry) -> list[GroupEntry]:
        cfg = self.config
        member = user.name if cfg.member_value == "name" else user.dn
        filt = (f"(&{cfg.group_filter}(|({cfg.member_attribute}={escape_filter_chars(member)})"
                f"(gidNumber={user.gid})))")
        wanted = ["cn", "gidNumber"] + ([cfg.projects.attribute] if cfg.projects.attribute else [])
        groups = []
        for e in self._search(cfg.group_base, filt, wanted):
            name, gid = _first(e["attrs"], "cn"), _first(e["attrs"], "gidNumber")
            if name and gid and gid.isdigit():
                groups.append(GroupEntry(name=name, gid=int(gid), dn=e["dn"], attributes=_all(e["attrs"])))
        return self._pinned(user, sorted(groups, key=lambda g: (g.name, g.gid)))

    def _is_project(self, group: GroupEntry) -> bool:
        return is_project(group, self.config.projects, self.projects_parent_dn)

    def _pinned(self, user: _UserEntry, groups: list[GroupEntry]) -> list[GroupEntry]:
        """The groups the user gains: a name is trusted only where the settings pin it.

        Policy and access checks know groups by name, so two entries of one name (cn matches
        case-insensitively) must not both count: only the configured entry (the admin group's DN,
        a project under its parent) does; when neither is configured, neither counts. A group of the
        admin group's name at another DN never counts. Each refusal is logged with both DNs.
        """
        if not groups:
            return groups
        holders: dict[str, list[str]] = {}
        names = sorted({g.name.lower() for g in groups})
        filt = f"(&{self.config.group_filter}(|{''.join(f'(cn={escape_filter_chars(n)})' for n in names)}))"
        for e in self._search(self.config.group_base, filt, ["cn"]):
            for key, values in _all(e["attrs"]).items():
                for value in values if key.lower() == "cn" else []:
                    holders.setdefault(value.lower(), []).append(e["dn"])
        kept = []
        for g in groups:
            others = [dn for dn in holders.get(g.name.lower(), []) if not same_dn(dn, g.dn)]
            if g.name.lower() == self.admin_group.lower():
                trusted, pin = same_dn(g.dn, self.admin_group_dn), f"admin_group_dn is {self.admin_group_dn}"
            else:
                trusted, pin = self._is_project(g), "no entry of this name is pinned in the LDAP settings"
                if not trusted:
                    pin = next((f"the project is {dn}" for dn in others
                                if child_named(dn, g.name, self.projects_parent_dn)), pin)
            if trusted or not (others or g.name.lower() == self.admin_group.lower()):
                kept.append(g)
                continue
            _log.warning("LDAP: %s (gid %d) is not counted as group %r for %s: %s; the name is also held by %s",
                         printable(g.dn), g.gid, printable(g.name), printable(user.name), pin,
                         printable(", ".join(others) or "no other entry"))
        return kept

    def _identity(self, user: _UserEntry) -> Identity:
        groups = self._groups(user)
        admin = any(g.name.lower() == self.admin_group.lower() and same_dn(g.dn, self.admin_group_dn)
                    for g in groups)
        return Identity(name=user.name, uid=user.uid, gid=user.gid,
                        groups=[Group(name=g.name, gid=g.gid) for g in groups],
                        projects=sorted({g.name for g in groups if self._is_project(g)}),
                        admin=admin)

    # -- the IdentityProvider protocol -----------------------------------------------------------------

    def lookup(self, username: str) -> Identity:
        cached = self._cache.get(username)
        if cached is not None:
            return cached
        user = self._find_user(username) if _plausible_name(username) else None
        if user is None:
            raise NotFound(f"no user named {username!r} in the facility directory",
                           hint="Check the name; ask the facility to add you.")
        identity = self._identity(user)
        self._cache.put(username, identity)
        return identity

    def authenticate(self, username: str, password: str) -> Identity:
        if not password:
            raise AuthError("an empty password is refused", hint="Type your facility password.")
        user = self._find_user(username) if _plausible_name(username) else None
        if user is None:
            raise LoginRefused(_WRONG)
        # The same answer as a wrong password (the caller learns nothing), but the audit record names the account.
        wrong = LoginRefused(_WRONG, account=user.name, uid=user.uid)
        try:
            # ldap3 runs SASLprep (RFC 4013) on the password before the bind: a NUL or other control character
            # is the caller's input, refused as a wrong password, not an outage.
            sasl_prep(password)
        except lx.LDAPSASLPrepError:
            raise wrong from None
        with self._boundary((password,)):
            conn = self._open(user.dn, password)
            try:
                bound, result = conn.bound, conn.result or {}
            finally:
                with contextlib.suppress(Exception):
                    conn.unbind()
        if not bound:
            if result.get("result") in _REFUSED_CREDENTIALS:
                raise wrong
            raise IdentityUnavailable(f"LDAP refused the bind: {result.get('description', 'unknown')}",
                                      hint=_HINT_DOWN)
        identity = self._identity(user)
        self._cache.put(user.name, identity)
        return identity

    def close(self) -> None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                conn.unbind()
