"""The engine raising, hanging or too slow: every call is denied (fail closed), audited, nothing forwarded."""

from __future__ import annotations

import pytest

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.backends.manifests import ManifestsBackend
from spin_gateway.interceptor.intercept import intercept
from spin_gateway.policy.embedded import EmbeddedEngine
from spin_gateway.policy.service import PolicyService
from tests.faults.faults import HangingEngine, RaisingEngine
from tests.faults.plans import ALICE, ctx, plan, project_objects

NS = "demo"


@pytest.fixture
def audit(tmp_path):
    log = AuditLog(tmp_path / "audit.log")
    yield log
    log.close()


def _refused_and_audited(outcome, audit, out, reason: str):
    assert not outcome.allowed and not outcome.forwarded
    assert not out.exists(), "something was forwarded although the policy could not decide"
    decisions = [r for r in read_records(audit.path) if r["type"] == "decision"]
    assert len(decisions) == len(outcome.decisions) == 1 + len(project_objects(NS))
    assert all(r["decision"] == "deny" and r["violations"][0]["rule"] == "policy-error" for r in decisions)
    assert reason in decisions[0]["violations"][0]["message"] and decisions[0]["error"]
    assert all("earlier call" in r["violations"][0]["message"] for r in decisions[1:])
    assert verify(audit.path).ok


@pytest.mark.parametrize("exc", [RuntimeError("engine crashed"), MemoryError(), ValueError("bad answer")])
def test_an_engine_that_raises_denies_the_whole_plan(tmp_path, allow_all_dir, audit, exc):
    engines = []

    def factory(bundle):
        engines.append(RaisingEngine(EmbeddedEngine(bundle), exc=exc))
        return engines[-1]

    service = PolicyService(allow_all_dir, factory=factory)
    out = tmp_path / "out"
    try:
        outcome = intercept(plan(NS, project_objects(NS)), ALICE, service, audit, ManifestsBackend(out), ctx(),
                            dry_run=False)
    finally:
        service.close()
    _refused_and_audited(outcome, audit, out, type(exc).__name__)
    assert engines[0].calls == 1  # the rest of the plan was not put to a failing engine


def test_a_decider_that_raises_itself_is_a_denial_too(tmp_path, audit):
    class Broken:
        def decide(self, *args):
            raise ConnectionError("OPA server went away")

    out = tmp_path / "out"
    outcome = intercept(plan(NS, project_objects(NS)), ALICE, Broken(), audit, ManifestsBackend(out), ctx(),
                        dry_run=False)
    _refused_and_audited(outcome, audit, out, "OPA server went away")


def test_an_engine_that_hangs_is_a_denial_after_the_policy_timeout(tmp_path, allow_all_dir, audit):
    engines = []

    def factory(bundle):
        engines.append(HangingEngine(EmbeddedEngine(bundle)))
        return engines[-1]

    service = PolicyService(allow_all_dir, factory=factory, timeout=0.3)
    out = tmp_path / "out"
    try:
        outcome = intercept(plan(NS, project_objects(NS)), ALICE, service, audit, ManifestsBackend(out), ctx(),
                            dry_run=False)
        assert engines[0].calls == 1  # one timeout for the request, not one per call
    finally:
        engines[0].release.set()
        service.close()
    _refused_and_audited(outcome, audit, out, "took longer than 0.3s")


SLOW = """
package spin.admission

# Real Rego that runs for about a second (400 thousand pairs, none matching): far past the 0.2 s timeout.
deny contains {"rule": "slow", "message": "never"} if {
    some i in numbers.range(1, 650)
    some j in numbers.range(1, 650)
    i * j == -1
}
patch := []
"""


def test_a_real_policy_slower_than_the_timeout_is_a_denial(tmp_path, audit):
    rego = tmp_path / "slow"
    rego.mkdir()
    (rego / "admission.rego").write_text(SLOW)
    service = PolicyService(rego, timeout=0.2)
    out = tmp_path / "out"
    try:
        outcome = intercept(plan(NS, project_objects(NS)), ALICE, service, audit, ManifestsBackend(out), ctx(),
                            dry_run=False)
    finally:
        service.close()
    _refused_and_audited(outcome, audit, out, "took longer than 0.2s")
