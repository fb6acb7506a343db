"""The LDAP identity source against a real slapd: lookups, projects, logins, cache, failover, outages."""

from __future__ import annotations

import logging
import time

import pytest
from ldap3 import MODIFY_DELETE

from spin_gateway.gateway_api.identity.ldap_config import LdapConfig
from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
from spin_gateway.vocabulary.errors import AuthError, IdentityUnavailable, NotFound, UsageError
from tests.ldap.slapd import BIND_PASSWORD, demo_password, free_port

USERS = ["alice", "bob", "carol", "mallory"]


def test_every_example_user_is_the_same_person_in_ldap_as_in_the_users_file(provider, repo_root):
    ldap, local = provider(), UsersFileProvider(repo_root / "examples/users.yaml")
    for user in USERS:
        got, want = ldap.lookup(user), local.lookup(user)
        assert (got.name, got.uid, got.gid, got.admin) == (want.name, want.uid, want.gid, want.admin), user
        assert sorted(got.groups, key=lambda g: g.name) == sorted(want.groups, key=lambda g: g.name), user
        assert got.projects == want.projects, user


def test_projects_are_the_groups_the_rule_picks(provider):
    assert provider().lookup("bob").projects == ["astro", "climate"]
    # the admins group carries no project marker and lies outside the gid range
    assert provider().lookup("carol").projects == []
    assert provider(projects={"name_pattern": "^astro$"}).lookup("bob").projects == ["astro"]
    assert provider(projects={"gid_min": 5002, "gid_max": 5100}).lookup("carol").projects == ["spin-admins"]
    assert provider(projects={"attribute": "description", "value": "no-such-marker"}).lookup("bob").projects == []


def test_unknown_users_and_filter_tricks_find_nobody(provider):
    ldap = provider()
    for name in ("nobody", "*", "alice)(uid=*", "al*", "alice\x00", ""):
        with pytest.raises(NotFound):
            ldap.lookup(name)


def test_login_binds_as_the_user(provider):
    ldap = provider()
    assert ldap.authenticate("alice", demo_password("alice")).projects == ["astro"]
    with pytest.raises(AuthError) as wrong:
        ldap.authenticate("alice", demo_password("bob"))
    with pytest.raises(AuthError) as unknown:
        ldap.authenticate("nobody", "whatever")
    # the same answer whether or not the user exists
    assert wrong.value.message == unknown.value.message == "wrong user name or password"


def test_an_empty_password_is_refused_though_ldap_would_take_it_as_anonymous(provider):
    with pytest.raises(AuthError) as refused:
        provider().authenticate("alice", "")
    assert "empty password" in refused.value.message


def test_passwords_never_reach_logs_errors_or_the_config_repr(provider, ldap_config, caplog, slapd):
    caplog.set_level(logging.DEBUG)
    ldap = provider()
    with pytest.raises(AuthError):
        ldap.authenticate("alice", "hunter2-wrong")
    ldap.authenticate("bob", demo_password("bob"))
    config = LdapConfig.from_file(ldap_config())
    assert BIND_PASSWORD not in repr(config) and BIND_PASSWORD not in config.model_dump_json()
    text = caplog.text
    for secret in ("hunter2-wrong", demo_password("bob"), BIND_PASSWORD):
        assert secret not in text


def test_a_wrong_bind_password_is_unavailable_without_showing_it(tmp_path, ldap_config):
    from spin_gateway.gateway_api.identity.ldap import LdapProvider

    bad = tmp_path / "bad.password"
    bad.write_text("not-the-bind-password")
    ldap = LdapProvider(LdapConfig.from_file(ldap_config(bind_password_file=str(bad))))
    with pytest.raises(IdentityUnavailable) as down:
        ldap.lookup("alice")
    assert "bind_dn" in down.value.hint and "not-the-bind-password" not in str(down.value.to_body())


def test_a_config_holding_the_password_or_missing_its_source_is_refused(tmp_path, ldap_config, monkeypatch):
    import yaml

    path = ldap_config()
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "bind_password": "inline"}))
    with pytest.raises(UsageError, match="must not hold the bind password"):
        LdapConfig.from_file(path)
    del raw["bind_password_file"]
    path.write_text(yaml.safe_dump({**raw, "bind_password_env": "SPIN_TEST_UNSET_VARIABLE"}))
    monkeypatch.delenv("SPIN_TEST_UNSET_VARIABLE", raising=False)
    with pytest.raises(UsageError, match="SPIN_TEST_UNSET_VARIABLE"):
        LdapConfig.from_file(path)
    path.write_text(yaml.safe_dump({**raw, "urls": ["http://x"]}))
    with pytest.raises(UsageError, match="urls"):
        LdapConfig.from_file(path)


def test_lookups_are_cached_for_the_ttl_then_read_again(own_slapd, provider):
    ldap = provider([own_slapd.url], cache_ttl=1)
    assert ldap.lookup("bob").projects == ["astro", "climate"]
    own_slapd.modify("cn=climate,ou=groups,dc=spin,dc=example", {"memberUid": [(MODIFY_DELETE, ["bob"])]})
    assert ldap.lookup("bob").projects == ["astro", "climate"]  # within the TTL: the cached answer
    time.sleep(1.2)
    assert ldap.lookup("bob").projects == ["astro"]
    # and without a cache the change shows at once
    assert provider([own_slapd.url]).lookup("bob").projects == ["astro"]


def test_the_second_url_answers_when_the_first_is_down(slapd, own_slapd, provider):
    closed = f"ldap://127.0.0.1:{free_port()}"
    assert provider([closed, slapd.url]).lookup("alice").uid == 1001
    ldap = provider([own_slapd.url, slapd.url])
    assert ldap.authenticate("alice", demo_password("alice")).name == "alice"
    own_slapd.stop()
    assert ldap.lookup("bob").uid == 1002
    assert ldap.authenticate("alice", demo_password("alice")).name == "alice"


def test_ldap_down_is_unavailable_within_the_timeout_and_recovers(own_slapd, provider):
    ldap = provider([own_slapd.url])
    assert ldap.lookup("alice").uid == 1001
    own_slapd.stop()
    started = time.monotonic()
    for call in (lambda: ldap.lookup("alice"), lambda: ldap.authenticate("alice", demo_password("alice"))):
        with pytest.raises(IdentityUnavailable) as down:
            call()
        assert down.value.http_status == 503 and "try again" in down.value.hint
    assert time.monotonic() - started < 5  # refused connections: no waiting for timeouts
    own_slapd.start()
    assert ldap.lookup("alice").uid == 1001
    assert ldap.authenticate("alice", demo_password("alice")).name == "alice"


def test_a_hung_ldap_server_is_unavailable_after_the_receive_timeout_not_later(own_slapd, provider):
    ldap = provider([own_slapd.url], receive_timeout=1)
    assert ldap.lookup("alice").uid == 1001  # a pooled connection now exists
    own_slapd.pause()
    try:
        for call in (lambda: ldap.lookup("bob"), lambda: ldap.authenticate("alice", demo_password("alice"))):
            started = time.monotonic()
            with pytest.raises(IdentityUnavailable):
                call()
            # one receive timeout (1 s) per call, with slack for a loaded machine: no hang, no double wait
            assert time.monotonic() - started < 4
    finally:
        own_slapd.resume()
    assert ldap.lookup("bob").uid == 1002


def test_a_hung_first_server_costs_one_timeout_then_the_second_answers(own_slapd, slapd, provider):
    ldap = provider([own_slapd.url, slapd.url], receive_timeout=2, slow_server_seconds=30)
    assert ldap.lookup("alice").uid == 1001  # pooled connections to the first server now exist
    own_slapd.pause()
    try:
        with pytest.raises(IdentityUnavailable):
            ldap.lookup("bob")  # the one request that meets the silence
        started = time.monotonic()
        for user in USERS:
            assert ldap.lookup(user).name == user
        assert ldap.authenticate("alice", demo_password("alice")).name == "alice"
        assert time.monotonic() - started < 2  # no further timeouts: the hung server is tried last
    finally:
        own_slapd.resume()


def test_concurrent_lookups_and_logins_each_get_their_own_answer(provider):
    from concurrent.futures import ThreadPoolExecutor

    ldap = provider(pool_size=2)  # fewer pooled connections than threads: some are opened and closed

    def work(i: int) -> tuple[str, int]:
        user = USERS[i % 4]
        identity = ldap.authenticate(user, demo_password(user)) if i % 5 == 0 else ldap.lookup(user)
        return user, identity.uid

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(work, range(200)))
    uids = {"alice": 1001, "bob": 1002, "carol": 1003, "mallory": 1004}
    assert all(uid == uids[user] for user, uid in answers)
    assert ldap._idle.qsize() <= 2
