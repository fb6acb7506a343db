"""OPA's own Go engine in-process (opa-golib-python-bindings).

Chosen over the Rust ports for semantics: it is OPA, so what security staff
test with OPA tooling behaves the same here, and parse errors carry file:line.
Its data can only be merged, never replaced, so a reload builds a new engine
and the service swaps it in (policy/service.py).
"""

from __future__ import annotations

import queue
import time
from typing import Any

from spin_gateway.policy.bundle import DECISION_PATH, PolicyBundle
from spin_gateway.vocabulary.errors import PolicyError, PolicyLoadError

try:  # an optional native wheel: report its absence as a load error, not an ImportError
    from opa_bindings import OpaEngine, OpaError, OpaUndefinedError
except ImportError:  # pragma: no cover - exercised only on broken installs
    OpaEngine = None


def _new_engine(modules: dict[str, str], data: dict[str, Any]):
    if OpaEngine is None:
        raise PolicyLoadError("the embedded OPA engine (opa-golib-python-bindings) is not installed",
                              hint="Run scripts/install.sh, or decide with an OPA server: --opa-url URL.")
    engine = OpaEngine()
    try:
        for path, source in modules.items():
            engine.add_policy(path, source)
        engine.add_data(data)
        engine.eval_query("true")  # compile now: a broken module fails the load, not a request
    except OpaError as exc:
        engine.close()
        raise PolicyLoadError(f"policy does not compile: {exc.message}") from None
    return engine


class EmbeddedEngine:
    name = "embedded-opa"
    #: OPA itself: the same modules, data and input give the same answer unless the library calls a
    #: non-deterministic built-in (the policy service checks that before it caches).
    deterministic = True
    #: In this process: the policy service may evaluate on the caller's thread (evaluate_within).
    inline = True

    def __init__(self, bundle: PolicyBundle, *, with_tests: bool = False, pool_size: int = 2):
        self.bundle = bundle
        modules = {**bundle.modules, **(bundle.tests if with_tests else {})}
        # One OPA engine serialises its evaluations; a few let threads decide in parallel
        # (ctypes releases the GIL while Go evaluates).
        self._engines = [_new_engine(modules, bundle.data) for _ in range(max(1, pool_size))]
        #: How many evaluations can run at once (the policy service sizes its thread pool by it).
        self.concurrency = len(self._engines)
        # A C-level queue: the Condition this replaced (notify under its Python lock) held the GIL 14% of the time
        # in py-spy under 200 clients (docs/performance.md).
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for engine in self._engines:
            self._free.put(engine)

    def _acquire(self):
        return self._free.get()

    def _release(self, engine) -> None:
        self._free.put(engine)

    def evaluate(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        return self.document(DECISION_PATH, policy_input)

    def document(self, path: str, policy_input: Any = None) -> Any:
        engine = self._acquire()
        try:
            return engine.eval_document(path, policy_input)
        except OpaUndefinedError:
            raise PolicyError(f"data.{path} is undefined: the policy folder has no such package") from None
        except OpaError as exc:
            raise PolicyError(f"policy evaluation failed: {exc.message}") from None
        finally:
            self._release(engine)

    def query(self, text: str) -> list[dict[str, Any]]:
        """The bindings of a Rego query (`spin policy test` asks for many tests' results in one)."""
        engine = self._acquire()
        try:
            return engine.eval_query(text)
        except OpaError as exc:
            raise PolicyError(f"policy evaluation failed: {exc.message}") from None
        finally:
            self._release(engine)

    def evaluate_within(self, policy_input: dict[str, Any], timeout: float, queue_wait: float) -> dict[str, Any]:
        """evaluate() on the caller's thread, for a library that cannot block on I/O: waiting for a free
        evaluator longer than queue_wait is "busy", and an evaluation that took longer than timeout denies
        all the same (it cannot be interrupted, but its answer is not used)."""
        try:
            engine = self._free.get(timeout=queue_wait)
        except queue.Empty:
            raise PolicyError(f"the policy engine was busy for {queue_wait:g}s (every evaluator occupied)") from None
        started = time.monotonic()
        try:
            answer = engine.eval_document(DECISION_PATH, policy_input)
        except OpaUndefinedError:
            raise PolicyError(f"data.{DECISION_PATH} is undefined: the policy folder has no such package") from None
        except OpaError as exc:
            raise PolicyError(f"policy evaluation failed: {exc.message}") from None
        finally:
            self._release(engine)
        if time.monotonic() - started > timeout:
            raise PolicyError(f"policy evaluation took longer than {timeout:g}s")
        return answer

    def traced(self, path: str, policy_input: Any = None) -> tuple[Any, list[dict[str, Any]]]:
        """data.<path> (None when undefined) and OPA's evaluation trace: what `spin policy test` explains
        a failing test with. Slow (every step recorded); never on the decision path."""
        engine = self._acquire()
        try:
            try:
                value = engine.eval_document(path, policy_input, trace=True)
            except OpaUndefinedError:
                value = None
            except OpaError as exc:
                raise PolicyError(f"policy evaluation failed: {exc.message}") from None
            return value, list(engine.last_trace or [])
        finally:
            self._release(engine)

    def close(self) -> None:
        for engine in self._engines:
            engine.close()
