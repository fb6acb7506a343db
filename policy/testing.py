"""Runs the Rego unit tests (rules named test_*) with the embedded OPA engine, as `opa test` would.

No registry ships the `opa` binary, so `spin policy test` is how CI and
security staff run `opa test`-style suites: each test_ rule must evaluate to true.

Speed: the engine is built once and every test is evaluated in one query, through
a generated module that gathers each test's result (one query per test cost
100-500 ms each, nearly all of it preparing the query: 26 s for the library).
Only when that one evaluation fails (a test that raises a runtime error) are the
tests evaluated one by one, to say which test it was.

A failing test is evaluated once more with OPA's trace, which says where it
stopped (file:line, the expression) and with which values (the comparison that
did not hold, plugged with the values it compared; the test's variables).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spin_gateway.policy.bundle import PolicyBundle, load_bundle
from spin_gateway.policy.describe import rule_packages
from spin_gateway.vocabulary.errors import PolicyError, PolicyLoadError

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.M)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)
_LOCAL = re.compile(r"__local\d+__")
#: How many failures are explained (each costs one traced evaluation); the rest are named.
MAX_EXPLAINED = 25
#: Values are cut to this many characters in explanations (`--json` carries the same text).
VALUE_CHARS = 300


@dataclass
class TestResult:
    file: str
    package: str
    name: str
    passed: bool
    duration_ms: float | None  # None: decided in the one evaluation of all tests (no per-test time)
    error: str = ""
    line: int = 0  # where the test rule starts
    #: Why it failed: where it stopped and the values it compared (empty when it passed).
    explanation: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class TestReport:
    revision: str
    results: list[TestResult] = field(default_factory=list)
    #: Wall time of the whole run: loading, compiling, evaluating, explaining.
    duration_ms: float = 0.0
    #: rule package (under spin.rules) -> its meta id, read in the same evaluation (samples need it).
    rule_ids: dict[str, str] = field(default_factory=dict)

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


def _runner(tests: list[tuple[str, str, str]], packages: list[str]) -> tuple[str, str]:
    """A module whose one document holds every test's result (true only when the rule is exactly true, as
    `opa test` counts it; an undefined test is a failure) and every rule package's meta id."""
    name = f"spin_test_runner_{secrets.token_hex(6)}"
    lines = [f"package {name}", "", "results := {"]
    lines += [f'\t{json.dumps(f"{p}.{t}")}: count([v | v := data.{p}.{t}; v == true]) > 0,' for _f, p, t in tests]
    lines += ["}", "", "rule_ids := {"]
    lines += [f'\t{json.dumps(pkg)}: [i | i := data.spin.rules.{pkg}.meta.id],' for pkg in packages]
    lines += ["}", ""]
    return name, "\n".join(lines)


def _rule_line(source: str, name: str) -> int:
    m = re.search(rf"^{re.escape(name)}\b", source, re.M)
    return source.count("\n", 0, m.start()) + 1 if m else 0


def run_tests(policy_dir: str | Path, site_data: str | Path | None = None, match: str | None = None) -> TestReport:
    from spin_gateway.policy.embedded import EmbeddedEngine

    started = time.perf_counter()
    bundle = load_bundle(policy_dir, site_data)
    tests = [t for t in discover(bundle) if not match or re.search(match, f"{t[1]}.{t[2]}")]
    packages = sorted(rule_packages(bundle.modules))
    runner, source = _runner(tests, packages)
    probed = PolicyBundle(bundle.root, {**bundle.modules, f"{runner}.rego": source}, bundle.tests, bundle.site,
                          bundle.revision)
    engine = EmbeddedEngine(probed, with_tests=True, pool_size=1)
    report = TestReport(revision=bundle.revision)
    try:
        try:
            answer = engine.document(runner)
            outcomes: dict[str, tuple[bool, str, float | None]] = {
                f"{p}.{t}": (answer["results"].get(f"{p}.{t}") is True, "", None) for _f, p, t in tests}
            report.rule_ids = {pkg: ids[0] for pkg, ids in answer["rule_ids"].items() if ids and isinstance(ids[0], str)}
        except PolicyError:
            # A test raised (a conflict, a type error in a builtin): halve the set until the ones that raise
            # are alone (each query compiles the library again, so one query per test would take minutes).
            outcomes = _bisect(engine, [f"{p}.{t}" for _f, p, t in tests])
        explained = 0
        for file, package, name in tests:
            passed, error, ms = outcomes[f"{package}.{name}"]
            result = TestResult(file, package, name, passed, ms, error, _rule_line(bundle.tests[file], name))
            if not passed and not error and explained < MAX_EXPLAINED:
                explained += 1
                result.explanation = explain(engine, bundle.tests[file], result)
            report.results.append(result)
    finally:
        engine.close()
    report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return report


def _bisect(engine: Any, keys: list[str]) -> dict[str, tuple[bool, str, float | None]]:
    if not keys:
        return {}
    query = "results := {" + ", ".join(f"{json.dumps(k)}: count([v | v := data.{k}; v == true]) > 0" for k in keys) + "}"
    try:
        answer = engine.query(query)
    except PolicyError as exc:
        if len(keys) == 1:
            return {keys[0]: (False, exc.message, None)}
        half = len(keys) // 2
        return {**_bisect(engine, keys[:half]), **_bisect(engine, keys[half:])}
    results = answer[0]["results"] if answer else {}
    return {k: (results.get(k) is True, "", None) for k in keys}


# -- why a test failed ----------------------------------------------------------------------------


def _cut(text: str, limit: int = VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(event: dict[str, Any], file: str) -> int | None:
    loc = str(event.get("location") or "")
    prefix = f"{file}:"
    if loc.startswith(prefix):
        try:
            return int(loc[len(prefix):].split(":", 1)[0])
        except ValueError:
            return None
    return None


def _span(source: str, start: int) -> range:
    """The lines of the rule starting at `start`: up to the next line that starts a new top-level statement."""
    lines = source.splitlines()
    end = len(lines)
    for i in range(start, len(lines)):  # lines[start] is the rule's second line (1-based start)
        text = lines[i]
        if text and not text[0].isspace() and not text.startswith(("}", "#")):
            end = i
            break
    return range(start, end + 1)


_EQ = re.compile(r"^(?P<left>.+?)\s*==\s*(?P<right>-?\d[\d.eE+-]*|\"(?:[^\"\\]|\\.)*\"|true|false|null|\[\]|\{\}|set\(\))"
                 r"(?P<with>\s+with\s.*)?$")


def explain(engine: Any, source: str, result: TestResult) -> list[str]:
    """Where the test stopped and with which values, from one traced evaluation of it."""
    try:
        _value, trace = engine.traced(f"{result.package}.{result.name}")
    except PolicyError as exc:
        return [f"could not be traced: {exc.message}"]
    span = _span(source, result.line) if result.line else range(0, 1 << 30)
    body = [(i, e) for i, e in enumerate(trace) if _row(e, result.file) in span and e.get("op") != "Enter"]
    if not body:
        return ["the test rule was never evaluated (is it shadowed, or does its package not load?)"]
    query = body[0][1].get("query_id")
    fails = [(i, e) for i, e in body if e.get("op") == "Fail" and e.get("query_id") == query]
    if not fails:
        return ["every expression held, but the test's value is not true (a test_ rule must be exactly true)"]
    furthest = max(_row(e, result.file) or 0 for _i, e in fails)
    at, fail = [(i, e) for i, e in fails if _row(e, result.file) == furthest][-1]
    # This line's events in the pass that failed: back from the failure to where the line was entered.
    window = []
    for i in range(at - 1, -1, -1):
        event = trace[i]
        if event.get("query_id") == query and _row(event, result.file) != furthest:
            break
        if _row(event, result.file) == furthest:
            window.append(event)
    window.reverse()
    bound: dict[str, str] = {}
    compared = negated = None
    for event in window:
        if event.get("op") != "Unify":
            continue
        node = str(event.get("node") or "")
        left, sep, right = node.partition(" = ")
        if not sep:
            continue
        if event.get("query_id") != query:  # inside a `not`: what made the negated expression true
            if left.startswith("data.") or left == "_":
                continue
            if negated is None and event.get("parent_id") == query and not _LOCAL.search(left):
                negated = left
        elif _LOCAL.fullmatch(left) and not _LOCAL.search(right):
            bound[left] = right
        elif not _LOCAL.search(node):
            compared = (left, right)
    lines = source.splitlines()
    expression = lines[furthest - 1].strip() if 0 < furthest <= len(lines) else str(fail.get("node"))
    out = [f"{result.file}:{furthest}: {expression}"]
    m = _EQ.match(expression)
    if compared and m and compared[1] == m.group("right"):
        out.append(f"  expected {m.group('right')}, got {_cut(compared[0])}")
    elif compared:
        out.append(f"  {_cut(compared[0])} is not {_cut(compared[1])}")
    else:
        node = str(fail.get("node") or "").split(" with ", 1)[0]
        plugged = _LOCAL.sub(lambda v: bound.get(v.group(0), "_"), node)
        if node.startswith("not "):
            out.append(f"  {node[4:]} is defined" + (f": {_cut(negated)}" if negated else ""))
        elif "= data." in node or " in " in expression or "some " in expression:
            out.append(f"  no value makes it true: {_cut(plugged.removeprefix('_ = '))} is empty or undefined")
        else:
            out.append(f"  false: {_cut(plugged)}")
    for name, value in sorted((fail.get("locals") or {}).items()):
        if not name.startswith("__") and not name.startswith("$"):
            out.append(f"  {name} = {_cut(json.dumps(value, sort_keys=True), 160)}")
    return out
