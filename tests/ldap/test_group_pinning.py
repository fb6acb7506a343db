"""Admin and project groups are pinned by DN: a group of the same name created elsewhere gives nothing (issue #20).

An attacker who may create posixGroups somewhere under the group base (a delegated
sub-OU, self-service groups) names one `spin-admins` or `astro` and puts themself in it.
The real slapd answers; each test changes a directory of its own.
"""

from __future__ import annotations

import logging

import pytest
from ldap3 import Connection

from spin_gateway.vocabulary.errors import UsageError

GROUPS = "ou=groups,dc=spin,dc=example"


def _add(slapd, dn: str, object_class, attributes: dict) -> None:
    with Connection(slapd.url, slapd.root_dn, slapd.root_password, auto_bind=True) as conn:
        if not conn.add(dn, object_class, attributes):
            raise RuntimeError(f"add {dn} failed: {conn.result}")


def _evil_ou(slapd) -> str:
    _add(slapd, f"ou=evil,{GROUPS}", "organizationalUnit", {"ou": "evil"})
    return f"ou=evil,{GROUPS}"


def _names(identity) -> set[str]:
    return {g.name for g in identity.groups}


def test_a_second_spin_admins_elsewhere_makes_nobody_an_administrator(own_slapd, provider, caplog):
    evil = _evil_ou(own_slapd)
    _add(own_slapd, f"cn=spin-admins,{evil}", "posixGroup",
         {"cn": "spin-admins", "gidNumber": 5100, "memberUid": ["mallory"]})
    caplog.set_level(logging.WARNING)
    ldap = provider([own_slapd.url])
    mallory = ldap.lookup("mallory")
    # neither the flag nor the group name (the Rego rules read admin from the group names)
    assert mallory.admin is False and "spin-admins" not in _names(mallory)
    assert mallory.projects == ["climate"]
    refused = [r.getMessage() for r in caplog.records if "spin-admins" in r.getMessage()]
    assert refused and f"cn=spin-admins,{evil}" in refused[0] and f"cn=spin-admins,{GROUPS}" in refused[0]
    carol = ldap.lookup("carol")
    assert carol.admin is True and "spin-admins" in _names(carol)


@pytest.mark.parametrize("where", ["sub-ou", "multi-valued-rdn"])
def test_a_second_astro_with_another_gid_makes_nobody_a_project_member(own_slapd, provider, caplog, where):
    # Both carry the project marker and a gid inside the project range; neither is the configured astro.
    dn = (f"cn=astro,{_evil_ou(own_slapd)}" if where == "sub-ou"
          else f"cn=astro+gidNumber=5003,{GROUPS}")  # directly under the group base, yet another entry
    _add(own_slapd, dn, "posixGroup",
         {"cn": "astro", "gidNumber": 5003, "description": "spin-project", "memberUid": ["mallory", "carol"]})
    caplog.set_level(logging.WARNING)
    ldap = provider([own_slapd.url])
    mallory, carol = ldap.lookup("mallory"), ldap.lookup("carol")
    assert mallory.projects == ["climate"] and "astro" not in _names(mallory) and 5003 not in mallory.gids
    assert carol.projects == [] and "astro" not in _names(carol) and carol.admin is True
    assert any(dn.lower() in r.getMessage().lower() and f"cn=astro,{GROUPS}" in r.getMessage()
               for r in caplog.records), caplog.text
    # the configured astro still works, for its members alone
    assert ldap.lookup("alice").projects == ["astro"]
    bob = ldap.lookup("bob")
    assert bob.projects == ["astro", "climate"] and {g.gid for g in bob.groups if g.name == "astro"} == {5001}


def test_groups_pinned_elsewhere_by_the_settings_are_the_ones_that_count(own_slapd, provider):
    # A facility whose admins and projects live in OUs of their own says so; the same names outside count for nothing.
    _add(own_slapd, f"ou=spin,{GROUPS}", "organizationalUnit", {"ou": "spin"})
    _add(own_slapd, f"cn=spin-admins,ou=spin,{GROUPS}", "posixGroup",
         {"cn": "spin-admins", "gidNumber": 5200, "memberUid": ["alice"]})
    _add(own_slapd, f"cn=optics,ou=spin,{GROUPS}", "posixGroup",
         {"cn": "optics", "gidNumber": 5010, "description": "spin-project", "memberUid": ["alice"]})
    ldap = provider([own_slapd.url], admin_group_dn=f"cn=spin-admins,ou=spin,{GROUPS}",
                    projects={"parent_dn": f"ou=spin,{GROUPS}", "gid_min": 5000, "gid_max": 5099,
                              "attribute": "description", "value": "spin-project"})
    alice, carol = ldap.lookup("alice"), ldap.lookup("carol")
    assert alice.admin is True and alice.projects == ["optics"]  # astro lives outside ou=spin
    assert carol.admin is False and "spin-admins" not in _names(carol)


def test_an_admin_group_dn_that_contradicts_the_admin_group_name_is_refused_at_start(provider):
    with pytest.raises(UsageError) as refused:
        provider(admin_group_dn=f"cn=wheel,{GROUPS}")
    assert "wheel" in refused.value.message and "spin-admins" in refused.value.message
