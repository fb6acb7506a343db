"""The pure parts of the LDAP source: the project rule and the lookup cache (no server needed)."""

from __future__ import annotations

import pytest

from spin_gateway.gateway_api.identity.cache import TtlCache
from spin_gateway.gateway_api.identity.ldap_config import GroupEntry, ProjectRule, is_project

ASTRO = GroupEntry(name="astro", gid=5001, attributes={"Description": ["Spin-Project"]})
ADMINS = GroupEntry(name="spin-admins", gid=5100, attributes={"description": ["Administrators"]})
BARE = GroupEntry(name="p-lab", gid=7000)


@pytest.mark.parametrize("rule, group, expected", [
    ({}, ADMINS, True),  # no rule: every group is a project
    ({"gid_min": 5000, "gid_max": 5099}, ASTRO, True),
    ({"gid_min": 5000, "gid_max": 5099}, ADMINS, False),
    ({"gid_min": 5002}, ASTRO, False),
    ({"name_pattern": "^p-"}, BARE, True),
    ({"name_pattern": "^p-"}, ASTRO, False),
    ({"attribute": "description", "value": "spin-project"}, ASTRO, True),  # names and values ignore case
    ({"attribute": "description", "value": "spin-project"}, ADMINS, False),
    ({"attribute": "description", "value": "spin-project"}, BARE, False),  # no such attribute
    ({"gid_min": 5000, "attribute": "description", "value": "spin-project"}, ASTRO, True),  # every condition
    ({"gid_max": 5000, "attribute": "description", "value": "spin-project"}, ASTRO, False),
])
def test_the_project_rule(rule, group, expected):
    assert is_project(group, ProjectRule(**rule)) is expected


@pytest.mark.parametrize("rule", [{"attribute": "description"}, {"value": "x"}, {"name_pattern": "("}])
def test_a_rule_that_cannot_work_is_refused(rule):
    with pytest.raises(ValueError):
        ProjectRule(**rule)


def test_the_cache_expires_and_stays_within_its_size():
    now = [0.0]
    cache: TtlCache[str] = TtlCache(ttl=10, max_entries=2, clock=lambda: now[0])
    cache.put("alice", "A")
    cache.put("bob", "B")
    assert cache.get("alice") == "A"  # alice is now the most recently used
    cache.put("carol", "C")
    assert cache.get("bob") is None and cache.get("alice") == "A" and cache.get("carol") == "C"
    now[0] = 10.0
    assert cache.get("alice") is None and cache.get("carol") is None


def test_a_zero_ttl_caches_nothing():
    cache: TtlCache[str] = TtlCache(ttl=0, max_entries=100)
    cache.put("alice", "A")
    assert cache.get("alice") is None
