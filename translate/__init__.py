"""The compose model to Kubernetes objects: `to_kubernetes(model, project=, namespace=, labels=)`.

Used by the gateway (plans) and, through `convert` (the project's Namespace and
objects, before policy), by both `spin convert` and the gateway's convert. It meets the compose loader only
at the canonical model and imports nothing of it.
"""

from spin_gateway.translate.project import Conversion, convert
from spin_gateway.translate.translator import Translation, to_kubernetes

__all__ = ["Conversion", "Translation", "convert", "to_kubernetes"]
