"""The policy service: hot reload without a restart, and fail closed when the engine misbehaves."""

from __future__ import annotations

import shutil
import threading

import pytest

from spin_gateway.policy.bundle import load_bundle
from spin_gateway.policy.service import PolicyService
from spin_gateway.vocabulary.errors import PolicyLoadError

PRIVILEGED = {"user": {"name": "a", "uid": 1, "gid": 1, "groups": []},
              "request": {"object": {"kind": "Pod", "spec": {"containers": [
                  {"name": "c", "image": "x", "securityContext": {"privileged": True}}]}}}}


def _without_tests_naming(source: str, text: str) -> str:
    """The Rego source less every `test_... if { ... }` rule whose body mentions `text`."""
    out, pos = [], 0
    while (start := source.find("\ntest_", pos)) != -1:
        end = source.index("\n}\n", start) + 3
        out.append(source[pos:start + 1])
        if text not in source[start:end]:
            out.append(source[start + 1:end])
        pos = end
    return "".join(out) + source[pos:]


def test_reload_picks_up_a_changed_policy_without_restart(rego):
    service = PolicyService(rego)
    try:
        before = service.revision
        assert not service.decide("1", "CREATE", "Pod", "p", PRIVILEGED).allowed
        # security staff retire the rule: the folder alone is refused, since the library's own tests
        # still expect the rule to speak...
        shutil.rmtree(rego / "no_privileged")
        with pytest.raises(PolicyLoadError, match="test_a_denial_names_its_rule_and_path"):
            service.reload()
        assert service.revision == before
        # ...and goes live with the tests that expect it retired too (every test naming no-privileged)
        tests = rego / "admission_test.rego"
        tests.write_text(_without_tests_naming(tests.read_text(), "no-privileged"))
        assert service.reload() is True
        assert service.revision != before
        # the other rules of the library still speak (the bare input names no project); no-privileged does not
        assert "no-privileged" not in {v.rule for v in service.decide("1", "CREATE", "Pod", "p", PRIVILEGED).violations}
        assert service.reload() is False  # nothing changed since
    finally:
        service.close()


def test_a_broken_change_keeps_the_running_policy_and_says_where(rego):
    service = PolicyService(rego)
    try:
        revision = service.revision
        (rego / "no_privileged" / "policy.rego").write_text("package spin.rules.no_privileged\ndeny contains x if {\n")
        with pytest.raises(PolicyLoadError) as info:
            service.reload()
        assert "no_privileged/policy.rego" in info.value.message
        service.try_reload()
        assert service.last_reload_error and "no_privileged/policy.rego" in service.last_reload_error
        assert service.revision == revision
        assert not service.decide("1", "CREATE", "Pod", "p", PRIVILEGED).allowed
    finally:
        service.close()


class _HangingEngine:
    """Fault injection: an engine that never answers until released."""

    name = "hanging"

    def __init__(self, bundle):
        self.bundle = bundle
        self.release = threading.Event()

    def evaluate(self, policy_input):
        self.release.wait(30)
        return {"deny": [], "patch": []}

    def close(self):
        self.release.set()


class _RaisingEngine(_HangingEngine):
    name = "raising"

    def evaluate(self, policy_input):
        raise RuntimeError("engine exploded")


def test_a_hanging_engine_is_a_denial_after_the_timeout(rego):
    service = PolicyService(rego, factory=_HangingEngine, timeout=0.2)
    try:
        decision = service.decide("1", "CREATE", "Pod", "p", PRIVILEGED)
        assert not decision.allowed
        assert decision.violations[0].rule == "policy-error"
        assert "longer than 0.2s" in decision.violations[0].message
    finally:
        service.close()


def test_an_engine_exception_is_a_denial(rego):
    service = PolicyService(rego, factory=_RaisingEngine)
    try:
        decision = service.decide("1", "CREATE", "Pod", "p", {})
        assert not decision.allowed and decision.error and "engine exploded" in decision.error
    finally:
        service.close()


def test_the_revision_names_exactly_the_policy_and_site_data(rego):
    first = load_bundle(rego).revision
    (rego / "site.yaml").write_text((rego / "site.yaml").read_text() + "\nextra: 1\n")
    assert load_bundle(rego).revision != first
