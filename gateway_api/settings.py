"""The gateway's configuration: one pydantic model filled from `spin gateway serve` flags or the environment."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from spin_gateway.vocabulary.errors import UsageError

REPLICA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


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
    #: One hash chain per replica: with audit_dir the log is audit_dir/audit-<replica>.jsonl (audit_log unused).
    audit_dir: Path | None = None
    #: This replica's name: in its audit file's name and in every record it writes. Default: $SPIN_REPLICA,
    #: else $POD_NAME (the downward API), else the host name.
    replica: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    audit_max_bytes: int = 64 << 20
    audit_stdout: bool = False
    state_dir: Path = Path("state")
    token_ttl: int = 12 * 3600
    #: Project locks (backends/locks.py, backends/leases.py): how long a request waits for another `up` or
    #: `down` of the same project, the Leases' namespace (Kubernetes; default the gateway's own) and duration.
    lock_wait: float = Field(default=120, gt=0)
    lock_namespace: str | None = None
    lock_lease_seconds: float = Field(default=15, ge=1)
    #: Key rings (a file, or a folder: a mounted Secret with one file per key id and `current`), re-read when
    #: they change (vocabulary/keys.py). Default: state_dir/signing.key and state_dir/audit.key, made on first start.
    signing_keys: Path | None = None
    audit_keys: Path | None = None
    credentials_poll_seconds: float = Field(default=1.0, gt=0, description="How often key files are looked at")
    #: Where service tokens and user-token revocations live: a file in state_dir (one machine), or a Secret in
    #: Kubernetes (replicas). auto: kubernetes when the backend is.
    token_store: Literal["auto", "file", "kubernetes"] = "auto"
    token_namespace: str | None = Field(default=None, description="Default: the pod's namespace, else spin-system")
    token_secret: str = Field(default="spin-tokens", pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    #: Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the real client; from anyone
    #: else the header is ignored and the audit's source is the connecting address.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: HTTPS on the gateway's port, from these PEM files, reloaded when they change (gateway_api/tls.py).
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def signing_key(self) -> Path:
        return self.signing_keys or self.state_dir / "signing.key"

    @property
    def audit_key(self) -> Path:
        return self.audit_keys or self.state_dir / "audit.key"

    @property
    def replica_name(self) -> str:
        for candidate in (self.replica, os.environ.get("SPIN_REPLICA"), os.environ.get("POD_NAME"),
                          socket.gethostname().split(".")[0]):
            if candidate:
                if not REPLICA.match(candidate):  # it names a file: no slashes, nothing odd
                    raise UsageError(f"the replica name {candidate!r} is not a name (letters, digits, . _ -)",
                                     hint="Set --replica or SPIN_REPLICA to a plain name.")
                return candidate
        return "gateway"

    @property
    def audit_path(self) -> Path:
        """The file this replica's chain is written to."""
        if self.audit_dir is not None:
            return self.audit_dir / f"audit-{self.replica_name}.jsonl"
        return self.audit_log

    @property
    def token_store_kind(self) -> str:
        if self.token_store != "auto":
            return self.token_store
        return "kubernetes" if self.backend == "kubernetes" else "file"
