"""The policy timeout under load: time spent waiting for a free evaluator is not time spent evaluating.

At 200 concurrent clients a decision can queue behind others for longer than the policy timeout;
that used to deny it as "took longer than 2s" (benchmarks/, docs/performance.md). A slow or stuck
engine must still deny: in-flight past the timeout, or queued past the longer busy bound.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from spin_gateway.policy.service import PolicyService

INPUT = {"request": {"object": {"kind": "Pod", "spec": {"containers": []}}}}


class _OneAtATime:
    """Fault injection: an engine that evaluates one input at a time, each taking `seconds`."""

    name = "one-at-a-time"
    concurrency = 1
    seconds = 0.15

    def __init__(self, bundle):
        self.bundle = bundle
        self.release = threading.Event()
        self._lock = threading.Lock()

    def evaluate(self, policy_input):
        with self._lock:
            self.release.wait(self.seconds)
        return {"deny": [], "patch": []}

    def close(self):
        self.release.set()


class _Stuck(_OneAtATime):
    seconds = 30


def _decide_concurrently(service: PolicyService, n: int):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: service.decide(str(i), "CREATE", "Pod", f"p{i}", INPUT), range(n)))


def test_decisions_queued_behind_a_busy_engine_are_allowed_not_timed_out(rego):
    # four decisions of 0.15 s each through one evaluator: the last waits 0.45 s, past the 0.2 s timeout
    service = PolicyService(rego, factory=_OneAtATime, timeout=0.2)
    try:
        decisions = _decide_concurrently(service, 4)
        assert [d.violations for d in decisions] == [[], [], [], []]
        assert all(d.allowed for d in decisions)
    finally:
        service.close()


def test_a_stuck_engine_denies_the_call_in_flight_and_then_the_queued_ones_as_busy(rego):
    service = PolicyService(rego, factory=_Stuck, timeout=0.05)
    try:
        decisions = _decide_concurrently(service, 3)
        assert not any(d.allowed for d in decisions)
        messages = sorted(d.violations[0].message for d in decisions)
        assert all(d.violations[0].rule == "policy-error" for d in decisions)
        assert sum("longer than 0.05s" in m for m in messages) == 1
        assert sum("busy for" in m for m in messages) == 2
    finally:
        service.close()


def test_a_pure_library_decided_on_the_callers_thread_still_denies_an_overrun(rego):
    """Issue 18: no thread hand-off for a library that cannot block, but the timeout still holds."""
    service = PolicyService(rego, timeout=1e-6, cache_size=0)
    try:
        decision = service.decide("1", "CREATE", "Pod", "p", INPUT)
        assert not decision.allowed
        assert decision.violations[0].rule == "policy-error"
        assert "took longer than" in decision.violations[0].message
    finally:
        service.close()


def test_a_pure_library_waits_for_a_free_evaluator_only_up_to_the_busy_bound(rego):
    service = PolicyService(rego, timeout=0.01, cache_size=0)
    engine = service.engine
    held = [engine._acquire() for _ in range(engine.concurrency)]  # every evaluator occupied
    try:
        decision = service.decide("1", "CREATE", "Pod", "p", INPUT)
        assert not decision.allowed and "busy for" in decision.violations[0].message
    finally:
        for e in held:
            engine._release(e)
        service.close()
