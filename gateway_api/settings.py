"""The gateway's configuration: one pydantic model filled from `spin gateway serve` flags or the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=1, le=65535)
    backend: Literal["podman", "kubernetes", "manifests"] = "podman"
    manifests_dir: Path = Path("state/manifests")
    kubeconfig: str | None = None
    kube_context: str | None = None
    identity: Literal["users", "ldap"] = "users"
    users: Path = Path("examples/users.yaml")
    identity_config: Path | None = None
    policy_dir: Path = Path("rego")
    site_data: Path | None = None
    policy_timeout: float = Field(default=2.0, gt=0)
    opa_url: str | None = Field(default=None, description="Decide with this OPA server instead of the embedded engine")
    policy_poll_seconds: float = Field(default=2.0, ge=0, description="0 turns the hot-reload watcher off")
    audit_log: Path = Path("state/audit.log")
    audit_max_bytes: int = 64 << 20
    audit_stdout: bool = False
    state_dir: Path = Path("state")
    token_ttl: int = 12 * 3600
    #: Project locks (backends/locks.py, backends/leases.py): how long a request waits for another `up` or
    #: `down` of the same project, the Leases' namespace (Kubernetes; default the gateway's own) and duration.
    lock_wait: float = Field(default=120, gt=0)
    lock_namespace: str | None = None
    lock_lease_seconds: float = Field(default=15, ge=1)
    #: Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the real client; from anyone
    #: else the header is ignored and the audit's source is the connecting address.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: HTTPS on the gateway's port, from these PEM files, reloaded when they change (gateway_api/tls.py).
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def signing_key(self) -> Path:
        return self.state_dir / "signing.key"
