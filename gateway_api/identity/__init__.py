"""Identity sources: who a user is (uid, gid, groups, projects) and whether a password is theirs.

users_file.UsersFileProvider is the embedded default; ldap.LdapProvider reads a facility's LDAP.
"""

from spin_gateway.gateway_api.identity.base import IdentityProvider

__all__ = ["IdentityProvider"]
