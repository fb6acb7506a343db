"""Builds the gateway's parts from Settings: the only place that knows every concrete class."""

from __future__ import annotations

from interceptor.audit import AuditLog
from interceptor.backends.base import Backend
from interceptor.errors import UsageError
from gateway_api.auth.tokens import TokenSigner, load_or_create_key
from gateway_api.gateway import Gateway
from gateway_api.identity.base import IdentityProvider
from gateway_api.settings import Settings
from policy.service import PolicyService, factory_for


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "podman":
        from interceptor.backends.podman import PodmanBackend
        return PodmanBackend()
    if settings.backend == "manifests":
        from interceptor.backends.manifests import ManifestsBackend
        return ManifestsBackend(settings.manifests_dir)
    if settings.backend == "kubernetes":
        from interceptor.backends.kubernetes import KubernetesBackend
        return KubernetesBackend(kubeconfig=settings.kubeconfig, context=settings.kube_context)
    raise UsageError(f"unknown backend {settings.backend!r}")


def make_identity(settings: Settings) -> IdentityProvider:
    if settings.identity == "users":
        from gateway_api.identity.users_file import UsersFileProvider
        return UsersFileProvider(settings.users)
    if settings.identity == "ldap":
        from gateway_api.identity.ldap import LdapConfig, LdapProvider
        if settings.identity_config is None:
            raise UsageError("--identity ldap needs --identity-config FILE")
        return LdapProvider(LdapConfig.from_file(settings.identity_config))
    raise UsageError(f"unknown identity source {settings.identity!r}")


def make_gateway(settings: Settings) -> tuple[Gateway, TokenSigner]:
    policy = PolicyService(settings.policy_dir, settings.site_data, timeout=settings.policy_timeout,
                           factory=factory_for(settings.opa_url))
    # A key apart from the token key: audit verification must not need the power to mint tokens.
    audit = AuditLog(settings.audit_log, max_bytes=settings.audit_max_bytes, stdout=settings.audit_stdout,
                     key=load_or_create_key(settings.state_dir / "audit.key"))
    gateway = Gateway(policy=policy, audit=audit, backend=make_backend(settings), identity=make_identity(settings))
    return gateway, TokenSigner(load_or_create_key(settings.signing_key))
