"""The root command group: docker compose's verbs, a suggestion for a misspelt one, and what differs from compose.

Kept out of main.py so the root's assembly stays a list of commands.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

#: Compose verbs spin has no command for, and why (shown instead of "No such command").
NOT_HERE = {
    "attach": "spin up never attaches; `spin logs -f` follows the output",
    "cp": "files reach a service through the compose file's volumes, configs and secrets",
    "create": "`spin up` creates and starts in one decided step",
    "events": "`spin ps` and `spin logs -f` show what happens; security staff read `spin audit`",
    "kill": "`spin stop` stops services (each with its grace period)",
    "pause": "`spin stop` stops services; `spin start` starts them again",
    "unpause": "`spin start` starts stopped services",
    "port": "`spin ps` shows every published port",
    "push": "the gateway builds and pushes no images; push with docker or podman",
    "rm": "`spin down` removes the project's services",
    "top": "`spin exec SERVICE ps` runs ps in the service, decided by the policy",
    "images": "the backend keeps the images; `spin config` shows which each service uses",
    "version": "`spin --help` and `spin gateway` describe this installation",
    "wait": "`spin up --wait` waits until every service is ready",
    "watch": "spin has no file watcher: run `spin up` after a change (it converges)",
}

DIFFERENCES = """\b
Differences from docker compose, and why:
  up            never attaches (-d is accepted and changes nothing); every object is decided by
                the site's policy first, and a refused project changes nothing at all
  up --build    refused: the gateway builds no images (build and push, then name the image)
  pull, build   say why they have nothing to do: the backend pulls when `up` starts a service
  up            orphaned services (no longer in the file) are kept with a notice, as compose
                keeps orphan containers; --remove-orphans removes them
  down          exits 0 when the project is already gone (as compose); -v removes volumes
  ps -a         also lists stopped and completed services; `spin ls` lists projects
  logs -f       follows (as compose); `-f FILE` before the verb still names a compose file
  exec          decided by the policy and audited like any call; no terminal (-T is implied)
  stop/start    podman backend only; on Kubernetes `spin scale SERVICE=0` stops through the policy
  run           a one-off service (a Job) added to the project and decided like any up; --rm removes it
  sharing       every member of a project's facility project may manage it (docs/researcher.md)
\b
Exit codes: 0 done, 1 refused by policy, 2 bad input or usage (nothing changed),
3 the gateway or backend is unreachable, 4 a service failed to become ready (the reason says why).
"""


class SpinGroup(TyperGroup):
    """A compose verb spin has no command for gets the reason instead of "No such command" (a misspelt verb
    already gets typer's "Did you mean")."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:
            # typer carries its own copy of click, so its UsageError is matched by name and raised as its own class
            word = args[0] if args else ""
            if type(exc).__name__ == "UsageError" and word in NOT_HERE:
                raise type(exc)(f"`spin {word}` is not a spin command: {NOT_HERE[word]}.", ctx) from None
            raise
