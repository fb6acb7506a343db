"""Go runtime settings for the embedded OPA engine, which collects its garbage in the gateway's process.

With Go's default (GOGC=100) the engine spent about a quarter of its CPU per decision collecting
garbage: a decision allocates ~200 KB that dies at once. GOGC=400 lets the heap grow further
between collections; GOMEMLIMIT caps what that costs in memory (docs/performance.md has the
figures). Go reads both only from the environment the process started with, so `gateway serve`
sets them and starts itself again; an operator who sets either keeps their own choice.
"""

from __future__ import annotations

import os
import sys

DEFAULTS = {"GOGC": "400", "GOMEMLIMIT": "64MiB"}


def missing(environ: dict[str, str] | os._Environ = os.environ) -> dict[str, str]:
    """The defaults to add: none when the operator has set either variable."""
    if any(name in environ for name in DEFAULTS):
        return {}
    return dict(DEFAULTS)


def restart_with_defaults() -> None:
    """Start this `spin gateway serve` again with the defaults in its environment (same pid, via exec).

    Only for the command itself: never for a process that merely imports the CLI (a test runner).
    """
    add = missing()
    if not add or sys.argv[1:3] != ["gateway", "serve"]:
        return
    os.environ.update(add)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
