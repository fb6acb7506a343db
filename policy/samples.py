"""The rules' samples: rego/<rule>/samples/{allowed,denied}_<why>.yaml, one Kubernetes object each.

A sample's first line may name the user it is decided as (`# as: bob`); the
default is alice from examples/users.yaml. Security staff read these as the
rule's examples; tests/policy/test_samples.py decides every one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_USER = "alice"
_AS = re.compile(r"^#\s*as:\s*(\S+)\s*$")


@dataclass(frozen=True)
class Sample:
    rule_dir: Path
    path: Path
    expect: str  # "allowed" | "denied"
    as_user: str  # who it is decided as
    as_given: str | None  # the `# as:` line, if any


def read_sample(path: Path) -> Sample:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = _AS.match(first)
    expect = "allowed" if path.name.startswith("allowed_") else "denied"
    return Sample(path.parent.parent, path, expect, m.group(1) if m else DEFAULT_USER, m.group(1) if m else None)


def samples_of(rule_dir: Path) -> list[Sample]:
    folder = rule_dir / "samples"
    if not folder.is_dir():
        return []
    return [read_sample(p) for p in sorted(folder.glob("*.yaml"))
            if p.name.startswith(("allowed_", "denied_"))]
