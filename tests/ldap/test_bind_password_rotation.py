"""The gateway's LDAP bind password rotates (a mounted Secret changes) and the gateway follows without a restart."""

from __future__ import annotations

import time

import pytest
import yaml
from ldap3 import MODIFY_REPLACE, Connection

from spin_gateway.gateway_api.identity.ldap import LdapProvider
from spin_gateway.gateway_api.identity.ldap_config import LdapConfig
from spin_gateway.vocabulary.errors import IdentityUnavailable
from tests.ldap.slapd import BIND_DN, BIND_PASSWORD
from tests.unit.test_key_rotation import MountedSecret


def _provider(slapd, password_file, tmp_path) -> LdapProvider:
    config = tmp_path / "ldap.yaml"
    config.write_text(yaml.safe_dump({
        "urls": [slapd.url], "bind_dn": BIND_DN, "bind_password_file": str(password_file),
        "user_base": "ou=people,dc=spin,dc=example", "group_base": "ou=groups,dc=spin,dc=example",
        "connect_timeout": 1, "receive_timeout": 1, "cache_ttl": 0}))
    return LdapProvider(LdapConfig.from_file(config), admin_group="spin-admins")


def test_a_rotated_bind_password_is_used_for_the_next_bind_without_a_restart(own_slapd, tmp_path):
    secret = MountedSecret(tmp_path / "ldap-secret")
    secret.write({"password": BIND_PASSWORD.encode() + b"\n"})
    provider = _provider(own_slapd, secret.folder / "password", tmp_path)
    try:
        assert provider.lookup("alice").uid == 1001
        # The directory's administrators rotate the account's password, and the Secret follows.
        own_slapd.modify(BIND_DN, {"userPassword": [(MODIFY_REPLACE, ["rotated-bind-pw-1"])]})
        assert not Connection(own_slapd.url, BIND_DN, BIND_PASSWORD).bind(), "the old password still binds"
        secret.write({"password": b"rotated-bind-pw-1\n"})
        # A restarted slapd drops every pooled connection: the next search must bind, with the new password.
        own_slapd.stop()
        own_slapd.start()
        began = time.monotonic()
        assert provider.lookup("bob").uid == 1002
        took = time.monotonic() - began
        assert took < 5, f"the rotation took {took:.1f}s to be used"
        # A password that then changes into something unusable (an empty file) is not taken: the last stays.
        secret.write({"password": b"\n"})
        time.sleep(1.1)
        assert provider.lookup("alice").uid == 1001
    finally:
        provider.close()


def test_without_the_new_password_the_bind_fails_clearly_and_never_names_a_password(own_slapd, tmp_path):
    secret = MountedSecret(tmp_path / "ldap-secret")
    secret.write({"password": BIND_PASSWORD.encode()})
    provider = _provider(own_slapd, secret.folder / "password", tmp_path)
    try:
        own_slapd.modify(BIND_DN, {"userPassword": [(MODIFY_REPLACE, ["rotated-bind-pw-2"])]})
        own_slapd.stop()
        own_slapd.start()
        with pytest.raises(IdentityUnavailable) as info:
            provider.lookup("alice")
        assert "bind as" in info.value.message and BIND_PASSWORD not in info.value.message
        assert "rotated-bind-pw-2" not in info.value.message
        secret.write({"password": b"rotated-bind-pw-2"})  # the Secret catches up: the next request works
        assert provider.lookup("alice").uid == 1001
    finally:
        provider.close()
