"""Which facility project a new compose project is filed under, kept once.

The gateway (up, check, POST /v1/policy/eval) and `spin policy eval` both file a project this way, so a
local evaluation decides with the facility project the gateway would use.
"""

from __future__ import annotations

from spin_gateway.vocabulary.errors import Forbidden
from spin_gateway.vocabulary.types import Identity


def facility_project_for(identity: Identity, requested: str | None = None) -> str:
    """The requested facility project if the user may file under it, else (none requested) their default.

    The default is the user's first facility project, or their own name when they belong to none. An
    empty name counts as none requested. Administrators may file under any facility project.
    """
    if not requested:
        return identity.projects[0] if identity.projects else identity.name
    if requested in identity.projects or requested == identity.name or identity.admin:
        return requested
    raise Forbidden(f"you ({identity.name}) are not a member of facility project {requested!r}",
                    hint=f"Use one of your projects: {', '.join(identity.projects) or identity.name}.")
