"""A real slapd for the LDAP tests: started once per session on a loopback port, stopped afterwards.

Tests that stop, freeze or change the directory get a slapd of their own
(`own_slapd`), so the shared one stays as examples/ldap describes it.
Without slapd these tests fail (scripts/install-ldap.sh installs it); they never skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.ldap.slapd import BIND_DN, BIND_PASSWORD, Slapd


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.ldap)


def _slapd(folder: Path) -> Slapd:
    try:
        server = Slapd(folder)
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"cannot run slapd for the LDAP tests: {exc}")
    return server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    server = _slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.remove()


@pytest.fixture
def own_slapd(tmp_path):
    server = _slapd(tmp_path / "own-slapd")
    yield server
    server.remove()


@pytest.fixture
def ldap_config(tmp_path, slapd):
    """Writes a gateway LDAP config (YAML, bind password in a 0600 file) and returns its path."""
    password_file = tmp_path / "bind.password"
    password_file.write_text(BIND_PASSWORD + "\n")
    password_file.chmod(0o600)

    def write(urls: list[str] | None = None, **overrides) -> Path:
        config = {
            "urls": urls or [slapd.url],
            "bind_dn": BIND_DN,
            "bind_password_file": str(password_file),
            "user_base": "ou=people,dc=spin,dc=example",
            "group_base": "ou=groups,dc=spin,dc=example",
            "projects": {"gid_min": 5000, "gid_max": 5099, "attribute": "description", "value": "spin-project"},
            "connect_timeout": 1,
            "receive_timeout": 1,
            "cache_ttl": 0,
            **overrides,
        }
        path = tmp_path / f"ldap-{len(list(tmp_path.glob('ldap-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write


@pytest.fixture
def provider(ldap_config):
    from spin_gateway.gateway_api.identity.ldap import LdapProvider
    from spin_gateway.gateway_api.identity.ldap_config import LdapConfig

    made = []

    def make(urls: list[str] | None = None, **overrides) -> LdapProvider:
        p = LdapProvider(LdapConfig.from_file(ldap_config(urls, **overrides)), admin_group="spin-admins")
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def tls_slapd(tmp_path):
    try:
        server = Slapd(tmp_path / "tls-slapd", tls=True)
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"cannot run slapd with TLS for the LDAP tests: {exc}")
    yield server
    server.remove()
