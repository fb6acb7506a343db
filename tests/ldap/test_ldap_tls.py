"""StartTLS and LDAPS against a slapd that refuses every operation without TLS."""

from __future__ import annotations

import pytest

from spin_gateway.vocabulary.errors import IdentityUnavailable, UsageError
from tests.ldap.slapd import demo_password


def test_starttls_with_the_facility_ca(tls_slapd, provider):
    ldap = provider([tls_slapd.url], tls="starttls", ca_file=str(tls_slapd.ca_file))
    assert ldap.lookup("bob").projects == ["astro", "climate"]
    assert ldap.authenticate("alice", demo_password("alice")).uid == 1001


def test_ldaps_with_the_facility_ca(tls_slapd, provider):
    ldap = provider([tls_slapd.ldaps_url], tls="ldaps", ca_file=str(tls_slapd.ca_file))
    assert ldap.authenticate("carol", demo_password("carol")).admin is True


def test_a_server_certificate_from_an_unknown_ca_is_refused(tls_slapd, provider):
    # the system's CAs do not know the test CA: no connection, rather than an unverified one
    for ldap in (provider([tls_slapd.url], tls="starttls"), provider([tls_slapd.ldaps_url], tls="ldaps")):
        with pytest.raises(IdentityUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            ldap.authenticate("alice", demo_password("alice"))


def test_without_tls_the_server_refuses_and_the_gateway_says_so(tls_slapd, provider):
    with pytest.raises(IdentityUnavailable, match="confidentialityRequired"):
        provider([tls_slapd.url]).lookup("alice")


def test_a_tls_setting_the_urls_contradict_is_refused(tls_slapd, provider):
    with pytest.raises(UsageError, match="ldaps:// URLs"):
        provider([tls_slapd.url], tls="ldaps")
    with pytest.raises(UsageError, match="starttls needs ldap://"):
        provider([tls_slapd.ldaps_url], tls="starttls")
