"""Who may act on which project: plain functions over Identity and the project's labels."""

from __future__ import annotations

from spin_gateway.backends.base import ProjectInfo
from spin_gateway.vocabulary.errors import Forbidden
from spin_gateway.vocabulary.types import Identity


def may_act_on(identity: Identity, info: ProjectInfo) -> bool:
    return (identity.admin or info.owner == identity.name
            or (info.facility_project != "" and info.facility_project in identity.projects))


def require_access(identity: Identity, info: ProjectInfo | None) -> None:
    if info is None or may_act_on(identity, info):
        return
    raise Forbidden(f"project {info.project!r} belongs to facility project {info.facility_project!r} "
                    f"(owner {info.owner}); you ({identity.name}) are not a member",
                    hint="Choose another project name with -p, or ask a member of that project.")
