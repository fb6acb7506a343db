"""What an engine is: something that evaluates data.spin.admission for one input."""

from __future__ import annotations

from typing import Any, Protocol

from spin_gateway.policy.bundle import PolicyBundle


class Engine(Protocol):
    name: str
    bundle: PolicyBundle

    def evaluate(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        """The admission document: {"deny": [...], "patch": [...], "warn": [...]}.

        Raises PolicyError (never returns a partial answer) when it cannot decide.
        """

    def close(self) -> None: ...
