"""The objects a compose project becomes, before policy: what `spin convert` and the gateway's convert show.

One function for both, so the local answer and the gateway's cannot drift:
the project's Namespace, then what `to_kubernetes` makes of the canonical
model, every object with the project's labels. (The gateway's `up` plans the
same objects, in kind order, and decides each.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spin_gateway.translate.translator import to_kubernetes
from spin_gateway.vocabulary.kinds import object_ref
from spin_gateway.vocabulary.labels import project_labels
from spin_gateway.vocabulary.naming import namespace_for
from spin_gateway.vocabulary.types import Notice


@dataclass(frozen=True)
class Conversion:
    namespace: str
    objects: list[dict[str, Any]]
    notices: list[Notice]


def convert(model: dict[str, Any], *, project: str, owner: str, facility_project: str,
            allow_unsupported: bool = False) -> Conversion:
    """The project's objects from a validated canonical model; a label with no value (no facility project) is left out."""
    namespace = namespace_for(project)
    labels = {k: v for k, v in project_labels(project, owner, facility_project).items() if v}
    translation = to_kubernetes(model, project=project, namespace=namespace, labels=labels,
                                allow_unsupported=allow_unsupported)
    return Conversion(namespace, [object_ref("Namespace", namespace, None, labels), *translation.objects],
                      translation.notices)
