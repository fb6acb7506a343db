"""The policy service the interceptor calls: one decision per input, hot reload, fail closed.

Holds the current engine and swaps in a new one when the rego/ folder or the
site data changes (the new one is built and compiled first; a broken change
keeps the old engine and reports the error). Any failure to decide, including
a timeout, becomes a denial with rule id `policy-error`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spin_gateway.policy.bundle import PolicyBundle, load_bundle
from spin_gateway.policy.engine import Engine
from spin_gateway.vocabulary.errors import PolicyError, SpinError
from spin_gateway.vocabulary.types import Decision, Violation

EngineFactory = Callable[[PolicyBundle], Engine]
log = logging.getLogger("spin.policy")
#: How long a decision may wait for a free evaluator, in policy timeouts, before it is denied as "busy".
QUEUE_WAIT_FACTOR = 15


def default_factory(bundle: PolicyBundle) -> Engine:
    from spin_gateway.policy.embedded import EmbeddedEngine

    return EmbeddedEngine(bundle)


def factory_for(opa_url: str | None) -> EngineFactory:
    """The embedded engine, or an OPA server at opa_url (which must hold the same rego/ as a bundle)."""
    if not opa_url:
        return default_factory
    from spin_gateway.policy.opa_server import OpaServerEngine

    return lambda bundle: OpaServerEngine(bundle, opa_url)


def _violations(answer: dict[str, Any]) -> list[Violation]:
    out = []
    for item in answer.get("deny") or []:
        if isinstance(item, dict):
            out.append(Violation(rule=str(item.get("rule", "unnamed")), message=str(item.get("message", item.get("msg", ""))),
                                 path=str(item.get("path", ""))))
        else:  # a bare string deny: keep it, but it names no rule
            out.append(Violation(rule="unnamed", message=str(item)))
    return sorted(out, key=lambda v: (v.rule, v.path, v.message))


class PolicyService:
    def __init__(self, policy_dir: str | Path, site_data: str | Path | None = None, *,
                 factory: EngineFactory = default_factory, timeout: float = 2.0):
        self.policy_dir = Path(policy_dir)
        self.site_data = Path(site_data) if site_data else None
        self.timeout = timeout
        self._factory = factory
        self._lock = threading.Lock()
        self._engine: Engine = factory(load_bundle(self.policy_dir, self.site_data))
        # Evaluations run here so a hanging engine cannot hold a request past the timeout. As many threads
        # as the engine evaluates at once: more only wait inside it, where the wait would count as evaluating.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=getattr(self._engine, "concurrency", 4),
                                                           thread_name_prefix="policy")
        self.last_reload_error: str | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def revision(self) -> str:
        return self._engine.bundle.revision

    def reload(self) -> bool:
        """Rebuild when the folder changed. True if a new revision is now active."""
        bundle = load_bundle(self.policy_dir, self.site_data)
        if bundle.revision == self.revision:
            return False
        fresh = self._factory(bundle)  # raises PolicyLoadError: the old engine stays
        with self._lock:
            old, self._engine = self._engine, fresh
        old.close()
        return True

    def try_reload(self) -> None:
        """The watcher's call: never raises; a broken change is logged once and the old revision keeps serving."""
        try:
            if self.reload():
                log.info("policy reloaded: revision %s now serving", self.revision)
            self.last_reload_error = None
        except SpinError as exc:
            if exc.message != self.last_reload_error:
                log.error("policy change refused, revision %s keeps serving: %s", self.revision, exc.message)
            self.last_reload_error = exc.message

    def evaluate(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        engine = self._engine
        began: list[float] = []

        def run() -> dict[str, Any]:
            began.append(time.monotonic())
            return engine.evaluate(policy_input)

        future = self._pool.submit(run)
        answer = self._result(future, began)
        if not isinstance(answer, dict):
            raise PolicyError("policy answered with something other than an object under data.spin.admission")
        return answer

    def _result(self, future: concurrent.futures.Future, began: list[float]) -> Any:
        """The timeout counts from when the evaluation starts: under load a decision waits in the queue
        behind others, and a busy gateway must not read as a policy that took too long (false denials
        at 200 clients, benchmarks/). The queue wait has its own, longer bound."""
        queued_until = time.monotonic() + self.timeout * QUEUE_WAIT_FACTOR
        wait = self.timeout
        while True:
            try:
                return future.result(timeout=wait)
            except concurrent.futures.TimeoutError:
                now = time.monotonic()
                if began:
                    wait = began[0] + self.timeout - now
                    if wait <= 0:
                        raise PolicyError(f"policy evaluation took longer than {self.timeout:g}s") from None
                elif now >= queued_until:
                    future.cancel()
                    raise PolicyError(f"the policy engine was busy for {self.timeout * QUEUE_WAIT_FACTOR:g}s "
                                      "(every evaluator occupied)") from None
                else:
                    wait = min(self.timeout, queued_until - now)

    def decide(self, call_id: str, operation: str, kind: str, name: str, policy_input: dict[str, Any]) -> Decision:
        engine = self._engine
        started = time.perf_counter()
        try:
            answer = self.evaluate(policy_input)
            violations = _violations(answer)
            patches = list(answer.get("patch") or [])
            warnings = sorted(str(w) for w in answer.get("warn") or [])
            error = None
        except Exception as exc:  # fail closed: anything that stops a decision is a denial
            message = exc.message if isinstance(exc, SpinError) else f"{type(exc).__name__}: {exc}"
            violations = [Violation(rule="policy-error", message=f"the policy could not decide: {message}")]
            patches, warnings, error = [], [], message
        return Decision(
            call_id=call_id, operation=operation, kind=kind, name=name,  # type: ignore[arg-type]
            allowed=not violations, violations=violations, warnings=warnings, patches=patches,
            revision=engine.bundle.revision, engine=engine.name,
            duration_ms=round((time.perf_counter() - started) * 1000, 3), error=error,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._engine.close()
