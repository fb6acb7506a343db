"""Where approved calls go: podman (this machine), kubernetes (a cluster), manifests (a folder)."""

from spin_gateway.backends.base import Backend, ProjectInfo, ProjectRef

__all__ = ["Backend", "ProjectInfo", "ProjectRef"]
