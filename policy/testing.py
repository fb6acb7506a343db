"""Runs the Rego unit tests (rules named test_*) with the embedded OPA engine.

No registry ships the `opa` binary, so `spin policy test` is how CI and
security staff run `opa test`-style suites: each test_ rule must evaluate to true.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from spin_gateway.policy.bundle import PolicyBundle, load_bundle
from spin_gateway.vocabulary.errors import PolicyError, PolicyLoadError

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.M)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)


@dataclass
class TestResult:
    file: str
    package: str
    name: str
    passed: bool
    duration_ms: float
    error: str = ""


@dataclass
class TestReport:
    revision: str
    results: list[TestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


def discover(bundle: PolicyBundle) -> list[tuple[str, str, str]]:
    found = []
    for file, source in sorted(bundle.tests.items()):
        pkg = _PACKAGE.search(source)
        if not pkg:
            raise PolicyLoadError(f"{file}: no package declaration")
        for name in dict.fromkeys(_TEST_RULE.findall(source)):
            found.append((file, pkg.group(1), name))
    return found


def run_tests(policy_dir: str | Path, site_data: str | Path | None = None, match: str | None = None) -> TestReport:
    from spin_gateway.policy.embedded import EmbeddedEngine

    bundle = load_bundle(policy_dir, site_data)
    engine = EmbeddedEngine(bundle, with_tests=True, pool_size=1)
    report = TestReport(revision=bundle.revision)
    try:
        for file, package, name in discover(bundle):
            if match and not re.search(match, f"{package}.{name}"):
                continue
            started = time.perf_counter()
            error = ""
            try:
                passed = engine.document(f"{package}.{name}") is True
            except PolicyError as exc:
                # An undefined test_ rule is a failing test, as in `opa test`.
                passed, error = False, "" if "undefined" in exc.message else exc.message
            report.results.append(TestResult(file, package, name, passed,
                                             round((time.perf_counter() - started) * 1000, 3), error))
    finally:
        engine.close()
    return report
