"""The LDAP identity source's settings (a YAML file) and the rule that says which groups are projects.

    urls: [ldaps://ldap1.facility.example, ldaps://ldap2.facility.example]   # tried in order (failover)
    tls: none | starttls | ldaps
    bind_dn: cn=spin-gateway,ou=services,dc=facility
    bind_password_file: /etc/spin/ldap.password       # or bind_password_env: SPIN_LDAP_BIND_PASSWORD
    user_base: ou=people,dc=facility
    group_base: ou=groups,dc=facility
    projects: {parent_dn: "ou=projects,ou=groups,dc=facility", gid_min: 5000, gid_max: 5999,
               name_pattern: "^p-", attribute: description, value: spin-project}
    admin_group_dn: cn=spin-admins,ou=groups,dc=facility   # default: cn=<admin_group>,<group_base>

Admin and project groups are pinned by DN: the admin group is the entry at admin_group_dn,
a project is an entry cn=<name> directly under projects.parent_dn (default: group_base). A
group of the same name elsewhere under the group base gives nothing (see ldap.py).

The bind password is held as a SecretStr: it never shows in a repr, a log or an error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from spin_gateway.vocabulary.errors import UsageError

Dn = tuple[tuple[str, str, str], ...]


def parse(dn: str) -> Dn | None:
    """A DN as comparable parts (attribute types and ASCII values in lower case), None if it is no DN.

    Only ASCII is folded: a value that differs beyond that counts as another entry (refused, never let in).
    """
    try:
        parts = parse_dn(dn)
    except (LDAPInvalidDnError, ValueError, IndexError):
        return None
    return tuple((a.strip().lower(), v.strip().lower() if v.isascii() else v.strip(), sep) for a, v, sep in parts)


def same_dn(a: str, b: str) -> bool:
    pa, pb = parse(a), parse(b)
    return pa is not None and pa == pb


def named(dn: str, name: str) -> bool:
    """Whether dn's RDN is exactly cn=<name> (one attribute: cn=astro+gidNumber=5003 is another entry)."""
    parts = parse(dn)
    if not parts:
        return False
    (attr, value, sep), folded = parts[0], name.lower() if name.isascii() else name
    return attr == "cn" and value == folded and sep != "+"


def child_named(dn: str, name: str, parent: str) -> bool:
    """Whether dn is exactly cn=<name>,<parent>: directly under parent."""
    parts, above = parse(dn), parse(parent)
    return named(dn, name) and parts is not None and above is not None and parts[1:] == above


def _dn_or_none(v: str | None, what: str) -> str | None:
    if v is not None and parse(v) is None:
        raise ValueError(f"{what} {v!r} is not a DN (e.g. cn=spin-admins,ou=groups,dc=facility)")
    return v


class ProjectRule(BaseModel):
    """A group is a facility project if it matches every condition given (none given: every group)."""

    model_config = ConfigDict(extra="forbid")
    parent_dn: str | None = Field(default=None, description="Projects are entries cn=<name> directly under "
                                                            "this DN (default: group_base)")
    gid_min: int | None = Field(default=None, ge=0)
    gid_max: int | None = Field(default=None, ge=0)
    name_pattern: str | None = Field(default=None, description="Python regex the group name must match (search)")
    attribute: str | None = Field(default=None, description="An attribute of the group entry ...")
    value: str | None = Field(default=None, description="... that must hold this value (case-insensitive)")

    @field_validator("parent_dn")
    @classmethod
    def _parent_is_dn(cls, v: str | None) -> str | None:
        return _dn_or_none(v, "projects.parent_dn")

    @field_validator("name_pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"name_pattern is not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _pairs(self) -> ProjectRule:
        if (self.attribute is None) != (self.value is None):
            raise ValueError("projects.attribute and projects.value go together")
        return self


class GroupEntry(BaseModel):
    name: str
    gid: int
    dn: str = ""
    attributes: dict[str, list[str]] = Field(default_factory=dict)


def is_project(group: GroupEntry, rule: ProjectRule, parent_dn: str | None = None) -> bool:
    """Whether the rule picks the group; with parent_dn, only the entry cn=<name> directly under it can be one."""
    if parent_dn is not None and not child_named(group.dn, group.name, parent_dn):
        return False
    if rule.gid_min is not None and group.gid < rule.gid_min:
        return False
    if rule.gid_max is not None and group.gid > rule.gid_max:
        return False
    if rule.name_pattern is not None and not re.search(rule.name_pattern, group.name):
        return False
    if rule.attribute is not None:
        values = {v.lower() for k, vs in group.attributes.items() if k.lower() == rule.attribute.lower() for v in vs}
        if (rule.value or "").lower() not in values:
            return False
    return True


class LdapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[str] = Field(min_length=1, description="ldap:// or ldaps:// URLs, tried in order")
    tls: Literal["none", "starttls", "ldaps"] = "none"
    ca_file: Path | None = Field(default=None, description="CA bundle for ldaps/starttls (default: the system's)")
    verify_tls: bool = True
    bind_dn: str | None = Field(default=None, description="The gateway's read account (none: anonymous searches)")
    bind_password_file: Path | None = None
    bind_password_env: str | None = None
    bind_password: SecretStr | None = Field(default=None, exclude=True,
                                            description="Filled from the file or environment; not for the YAML")
    user_base: str
    user_filter: str = "(objectClass=posixAccount)"
    user_attribute: str = "uid"
    group_base: str
    group_filter: str = "(objectClass=posixGroup)"
    member_attribute: str = Field(default="memberUid", description="memberUid (RFC 2307) or member (RFC 2307bis)")
    member_value: Literal["name", "dn"] = "name"
    projects: ProjectRule = Field(default_factory=ProjectRule)
    admin_group: str | None = Field(default=None, description="Default: admin_group of the site data")
    admin_group_dn: str | None = Field(default=None, description="The one entry that makes administrators "
                                                                 "(default: cn=<admin_group>,<group_base>)")
    connect_timeout: float = Field(default=2.0, gt=0, le=60)
    # Whole seconds: ldap3 sets SO_RCVTIMEO from it with struct.pack("LL", ...).
    receive_timeout: int = Field(default=3, ge=1, le=120)
    slow_server_seconds: float = Field(default=30.0, ge=0, le=3600,
                                       description="A server that timed out is tried last for this long")
    pool_size: int = Field(default=4, ge=1, le=64)
    cache_ttl: float = Field(default=30.0, ge=0, le=3600, description="Seconds a lookup is reused; 0: never")
    cache_size: int = Field(default=10000, ge=0)

    @field_validator("admin_group_dn", "user_base", "group_base")
    @classmethod
    def _is_dn(cls, v: str | None) -> str | None:
        return _dn_or_none(v, "the DN")

    @field_validator("urls")
    @classmethod
    def _schemes(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not re.match(r"^ldaps?://[^/\s]+/?$", url):
                raise ValueError(f"{url!r} is not an ldap:// or ldaps:// URL of a server (host[:port])")
        return urls

    @model_validator(mode="after")
    def _tls_matches_urls(self) -> LdapConfig:
        # ldap3 takes TLS-or-not from the URL's scheme: a tls setting the URLs contradict would
        # silently send passwords in clear text, so it is refused.
        plain = [u for u in self.urls if u.startswith("ldap://")]
        if self.tls == "ldaps" and plain:
            raise ValueError(f"tls: ldaps needs ldaps:// URLs, not {', '.join(plain)}")
        if self.tls == "starttls" and len(plain) != len(self.urls):
            raise ValueError("tls: starttls needs ldap:// URLs (StartTLS upgrades a plain connection)")
        return self

    @model_validator(mode="after")
    def _password_source(self) -> LdapConfig:
        if self.bind_password_file and self.bind_password_env:
            raise ValueError("give bind_password_file or bind_password_env, not both")
        if self.bind_password is None and self.bind_dn and not (self.bind_password_file or self.bind_password_env):
            raise ValueError("bind_dn needs bind_password_file or bind_password_env")
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> LdapConfig:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise UsageError(f"cannot read the LDAP config {path}: {exc.strerror}",
                             hint="Pass an existing YAML file to --ldap-config.") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"the LDAP config {path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict) or "bind_password" in raw:
            raise UsageError(f"the LDAP config {path} must be a mapping and must not hold the bind password",
                             hint="Put the password in a file (bind_password_file) or the environment (bind_password_env).")
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
            raise UsageError(f"the LDAP config {path} is invalid: {problems}",
                             hint="See docs/facility-integrator.md for the fields.") from None
        return config.with_password(path)

    def with_password(self, origin: Path | None = None) -> LdapConfig:
        where = f" (LDAP config {origin})" if origin else ""
        if self.bind_password_file:
            try:
                secret = self.bind_password_file.read_text().rstrip("\n")
            except OSError as exc:
                raise UsageError(f"cannot read bind_password_file {self.bind_password_file}{where}: {exc.strerror}") from None
        elif self.bind_password_env:
            from_env = os.environ.get(self.bind_password_env)
            if from_env is None:
                raise UsageError(f"the environment variable {self.bind_password_env} (bind_password_env{where}) is not set",
                                 hint=f"Export {self.bind_password_env} with the bind account's password.")
            secret = from_env
        else:
            return self
        if not secret:
            raise UsageError(f"the bind password{where} is empty: LDAP would treat the bind as anonymous")
        return self.model_copy(update={"bind_password": SecretStr(secret)})
