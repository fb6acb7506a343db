"""One call decided as Kubernetes admission decides it: mutate, then validate the mutated object.

    decide(call) -> the policy's patches applied -> decided again on the patched object -> ... until
    it asks for no more patches (at most MAX_PATCH_ROUNDS)

The object a backend would receive is the last one decided. Anything that stops
a decision (an engine error, a timeout, a patch that does not apply) is a
denial. Pure: no audit and no backend here (the interceptor does both), so
`spin policy eval` and the gateway decide the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonpatch

from spin_gateway.policy.admission_input import admission_input
from spin_gateway.vocabulary.errors import SpinError
from spin_gateway.vocabulary.types import Call, Decision, Identity, Plan, Violation

#: Patching converges in one round for well-behaved policies; more rounds mean rules that fight.
MAX_PATCH_ROUNDS = 3


class Decider(Protocol):
    """What the interceptor needs of the policy service."""

    def decide(self, call_id: str, operation: str, kind: str, name: str, policy_input: dict[str, Any]) -> Decision: ...


@dataclass
class Decided:
    decision: Decision
    call: Call  # the patched call that would be forwarded
    rounds: list[Decision] = field(default_factory=list)


def decide_call(call: Call, identity: Identity, plan: Plan, policy: Decider, *, dry_run: bool) -> Decided:
    current = call
    applied: list[dict[str, Any]] = []
    started = time.perf_counter()
    rounds: list[Decision] = []
    for _ in range(MAX_PATCH_ROUNDS):
        try:
            decision = policy.decide(call.id, call.operation, call.kind, call.name,
                                     admission_input(current, identity, plan, dry_run=dry_run))
        except Exception as exc:  # fail closed: a decider that raises has decided nothing, which is a denial
            message = exc.message if isinstance(exc, SpinError) else f"{type(exc).__name__}: {exc}"
            decision = undecided(call, f"the policy could not decide: {message}", error=message)
        rounds.append(decision)
        if not decision.allowed or not decision.patches or call.operation == "DELETE":
            break
        try:
            patched = jsonpatch.apply_patch(current.object, decision.patches, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as exc:
            decision = decision.model_copy(update={
                "allowed": False,
                "violations": [Violation(rule="policy-error", message=f"the policy's patch does not apply: {exc}")],
            })
            rounds[-1] = decision
            break
        applied.extend(decision.patches)
        current = current.model_copy(update={"object": patched})
    else:
        decision = rounds[-1].model_copy(update={
            "allowed": False,
            "violations": [Violation(rule="policy-error",
                                     message=f"the policy still asks for patches after {MAX_PATCH_ROUNDS} rounds")],
        })
    final = decision.model_copy(update={
        "patches": applied,
        "warnings": sorted({w for d in rounds for w in d.warnings}),
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    })
    return Decided(final, current, rounds)


def undecided(call: Call, message: str, *, error: str) -> Decision:
    return Decision(call_id=call.id, operation=call.operation, kind=call.kind, name=call.name, allowed=False,
                    violations=[Violation(rule="policy-error", message=message)], revision="", engine="",
                    duration_ms=0.0, error=error)
