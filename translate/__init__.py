"""The compose model to Kubernetes objects: `to_kubernetes(model, project=, namespace=, labels=)`.

Used by the gateway (plans) and `spin convert`. It meets the compose loader only
at the canonical model and imports nothing of it.
"""

from spin_gateway.translate.translator import Translation, to_kubernetes

__all__ = ["Translation", "to_kubernetes"]
