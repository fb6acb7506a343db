"""The rules' samples: rego/<rule>/samples/{allowed,denied}_<why>.yaml, one Kubernetes object each.

A sample's first line may name the user it is decided as (`# as: bob`); the
default is alice from examples/users.yaml. Security staff read these as the
rule's examples; `spin policy test` decides every one of them (check_samples),
for any policy folder, and tests/policy/test_samples.py does too, also through
the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spin_gateway.vocabulary.errors import SpinError
from spin_gateway.vocabulary.types import Identity

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


@dataclass
class SampleResult:
    file: str  # relative to the policy folder
    rule: str  # the id of the rule whose samples folder holds it
    expect: str  # allowed | denied
    as_user: str
    passed: bool
    got: str  # "allowed", or "denied by <rule ids>"
    #: What was wrong, one line each: the violations of a refused allowed_ sample, the other rules of a denied_ one.
    explanation: list[str]


def check_samples(policy_dir: str | Path, site_data: str | Path | None, rule_ids: dict[str, str],
                  lookup: Callable[[str], Identity]) -> list[SampleResult]:
    """Every rule's samples in the folder, decided as the gateway decides (patches applied, decided again).

    An allowed_ sample must be allowed by the whole library; a denied_ sample refused by its own rule and
    by no other, so that each sample shows exactly what its name says. `lookup` gives the identity a
    sample's `# as:` line names (the CLI reads the users file; the policy package knows no identity source).
    """
    from spin_gateway.policy.describe import rule_packages
    from spin_gateway.policy.embedded import EmbeddedEngine
    from spin_gateway.policy.evaluate import decide_objects, read_objects
    from spin_gateway.policy.service import PolicyService

    root = Path(policy_dir)
    policy = PolicyService(root, site_data, factory=lambda bundle: EmbeddedEngine(bundle, pool_size=1))
    results: list[SampleResult] = []
    try:
        for package, file in sorted(rule_packages(policy.engine.bundle.modules).items()):
            rule = rule_ids.get(package, package.replace("_", "-"))
            for sample in samples_of(root / Path(file).parent):
                shown = sample.path.relative_to(root).as_posix()
                try:
                    decisions = decide_objects(read_objects(sample.path), lookup(sample.as_user), policy)
                except SpinError as exc:
                    results.append(SampleResult(shown, rule, sample.expect, sample.as_user, False, "not decided",
                                                [exc.message + (f" ({exc.hint})" if exc.hint else "")]))
                    continue
                violations = [v for d in decisions for v in d.violations]
                rules = sorted({v.rule for v in violations})
                got = f"denied by {', '.join(rules)}" if violations else "allowed"
                if sample.expect == "allowed":
                    passed, why = not violations, [f"[{v.rule}] {v.message} at {v.path}" for v in violations]
                else:
                    passed = rules == [rule]
                    why = ([f"allowed: no violation from {rule}"] if not violations else
                           [f"[{v.rule}] {v.message} at {v.path}" for v in violations if v.rule != rule]
                           or [f"not refused by {rule}"])
                results.append(SampleResult(shown, rule, sample.expect, sample.as_user, passed, got,
                                            [] if passed else why))
    finally:
        policy.close()
    return results
