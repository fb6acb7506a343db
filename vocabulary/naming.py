"""The project-name rule and the namespace a project gets, kept once.

Docker Compose accepts `[a-z0-9][a-z0-9_-]*` as a project name; spin also
needs a Kubernetes namespace of it, a DNS-1123 label of at most 63
characters. The loader (which mirrors Docker Compose), the canonical model,
the API's path parameter and the planner all take the rule from here.
"""

from __future__ import annotations

import re

from spin_gateway.vocabulary.errors import ComposeError

#: Docker Compose's own rule (compose-go's project name check).
COMPOSE_PROJECT_NAME = r"[a-z0-9][a-z0-9_-]*"
#: A namespace is a DNS label: at most 63 characters, so the project name is too.
MAX_PROJECT_NAME = 63
#: The rule a spin project name meets: Compose's, at most MAX_PROJECT_NAME characters.
PROJECT_NAME_PATTERN = rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_PROJECT_NAME - 1}}}$"

_COMPOSE_PROJECT = re.compile(rf"^{COMPOSE_PROJECT_NAME}$")
_PROJECT = re.compile(PROJECT_NAME_PATTERN)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

_RULE = ("use lowercase letters, digits, '-' and '_', starting with a letter or digit, "
         f"at most {MAX_PROJECT_NAME} characters")


def is_compose_project_name(name: str) -> bool:
    """Whether Docker Compose accepts `name` as given (with -p or COMPOSE_PROJECT_NAME)."""
    return bool(_COMPOSE_PROJECT.match(name))


def normalise_project_name(name: str) -> str:
    """As Docker Compose normalises `name:` and folder names: lowercase, only [a-z0-9_-], no leading '_' or '-'."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def check_project_name(project: str) -> str:
    """The name itself if spin can run a project of that name; a ComposeError saying the rule otherwise."""
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise ComposeError(f"project name {project!r} is not valid: {_RULE}",
                           hint="Pass a valid name with -p/--project-name.")
    return project


def namespace_for(project: str) -> str:
    """The namespace of a compose project: its name itself, which must be a DNS-1123 label.

    Never a rewriting of it: with `_` as `-`, `rt_bob_x` and `rt-bob-x` both became `rt-bob-x`, one
    project's objects the other's. So the name that Compose accepts but a namespace does not is refused,
    with the name that would do.
    """
    check_project_name(project)
    if not _DNS_LABEL.match(project):
        suggestion = project.replace("_", "-").strip("-")
        raise ComposeError(f"project name {project!r} is not a valid namespace: it must be lowercase letters, "
                           "digits and '-', starting and ending with a letter or digit",
                           hint=f"Pass -p {suggestion}" if _DNS_LABEL.match(suggestion)
                           else "Pass a valid name with -p/--project-name.")
    return project
