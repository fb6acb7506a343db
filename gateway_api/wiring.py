"""Builds the gateway's parts from Settings: the only place that knows every concrete class."""

from __future__ import annotations

from spin_gateway.audit import records
from spin_gateway.audit.log import AuditLog
from spin_gateway.audit.objects import ObjectStore
from spin_gateway.backends.base import Backend
from spin_gateway.backends.locks import FileLocks, ProjectLocks
from spin_gateway.gateway_api.auth.service_tokens import FileTokenStore, TokenStore
from spin_gateway.gateway_api.auth.tokens import TokenSigner, load_or_create_key
from spin_gateway.gateway_api.gateway import Gateway
from spin_gateway.gateway_api.identity.base import IdentityProvider
from spin_gateway.gateway_api.settings import Settings
from spin_gateway.policy.service import PolicyService, factory_for
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.keys import RingSource


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "podman":
        from spin_gateway.backends.podman import PodmanBackend
        return PodmanBackend(state_dir=settings.state_dir)
    if settings.backend == "manifests":
        from spin_gateway.backends.manifests import ManifestsBackend
        return ManifestsBackend(settings.manifests_dir)
    if settings.backend == "kubernetes":
        from spin_gateway.backends.kubernetes import KubernetesBackend
        return KubernetesBackend(kubeconfig=settings.kubeconfig, context=settings.kube_context)
    raise UsageError(f"unknown backend {settings.backend!r}")


def make_locks(settings: Settings, backend: Backend) -> ProjectLocks:
    """Per-project locks every gateway process sharing the backend sees: Leases in the cluster; on one
    machine, file locks in the state directory (which several `--workers` share)."""
    if settings.backend == "kubernetes":
        from spin_gateway.backends.leases import LeaseLocks
        return LeaseLocks(backend.api, settings.lock_namespace, duration=settings.lock_lease_seconds,  # type: ignore[attr-defined]
                          wait=settings.lock_wait)
    return FileLocks(settings.state_dir, wait=settings.lock_wait)


def make_identity(settings: Settings) -> IdentityProvider:
    if settings.identity == "users":
        from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
        return UsersFileProvider(settings.users)
    if settings.identity == "ldap":
        from spin_gateway.gateway_api.identity.ldap import LdapConfig, LdapProvider
        if settings.identity_config is None:
            raise UsageError("--identity ldap needs --ldap-config FILE", hint="See examples/ldap/gateway-ldap.yaml.")
        return LdapProvider(LdapConfig.from_file(settings.identity_config), admin_group=_site_admin_group(settings))
    raise UsageError(f"unknown identity source {settings.identity!r}")


def _site_admin_group(settings: Settings) -> str | None:
    """The admin group named in the site data (the same file the policies read), unless the LDAP config names one."""
    from spin_gateway.policy.bundle import load_site_data

    path = settings.site_data or settings.policy_dir / "site.yaml"
    return load_site_data(path).get("admin_group") if path.exists() else None


def key_source(path, what: str, settings: Settings, *, default: bool) -> RingSource:
    """A ring re-read when its file or folder changes; the default single key is made on first start."""
    if default and not path.exists():
        load_or_create_key(path)
    return RingSource(path, what, interval=settings.credentials_poll_seconds)


def make_gateway(settings: Settings) -> tuple[Gateway, TokenSigner]:
    policy = PolicyService(settings.policy_dir, settings.site_data, timeout=settings.policy_timeout,
                           factory=factory_for(settings.opa_url))
    # A key apart from the token key: audit verification must not need the power to mint tokens.
    audit_keys = key_source(settings.audit_key, "audit key", settings, default=settings.audit_keys is None)
    audit = AuditLog(settings.audit_path, max_bytes=settings.audit_max_bytes, stdout=settings.audit_stdout,
                     keys=audit_keys.get, replica=settings.replica_name if settings.audit_dir else None)
    # Every reload, done or refused, is on the record.
    policy.on_reload = lambda event: audit.write(records.policy_reload(**event))
    backend = make_backend(settings)
    gateway = Gateway(policy=policy, audit=audit, backend=backend, identity=make_identity(settings),
                      objects=ObjectStore.beside(settings.audit_dir or settings.audit_log),
                      locks=make_locks(settings, backend))
    signing = key_source(settings.signing_key, "signing key", settings, default=settings.signing_keys is None)
    return gateway, TokenSigner(signing)


def make_token_store(settings: Settings) -> TokenStore:
    """The registry of service tokens and user-token revocations: a file on one machine, a Secret for replicas."""
    if settings.token_store_kind == "file":
        return FileTokenStore(settings.state_dir / "tokens.json")
    from spin_gateway.backends.kube_api import KubeApi, client_from
    from spin_gateway.gateway_api.auth.kube_tokens import KubeTokenStore

    return KubeTokenStore(KubeApi(client_from(settings.kubeconfig, settings.kube_context)),
                          settings.token_namespace or _own_namespace(), settings.token_secret)


def _own_namespace() -> str:
    """The namespace of the pod the gateway runs in (its service account says), else spin-system."""
    from pathlib import Path

    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    try:
        return path.read_text().strip() or "spin-system"
    except OSError:
        return "spin-system"
