"""The policy service the interceptor calls: one decision per input, hot reload, fail closed.

Holds the current engine and swaps in a new one when the rego/ folder or the
site data changes. A reload is a transaction: the candidate is read as one
snapshot of the folder (policy/bundle.py), compiled, checked against the
library's structure and its own Rego tests (policy/candidate.py), and only then
replaces the live engine in one step. A refused candidate leaves the live
revision deciding and is reported (last_reload_error, /readyz, `spin policy
status`); both outcomes are audited (type `reload`). Any failure to decide,
including a timeout, becomes a denial with rule id `policy-error`.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spin_gateway.policy.bundle import PolicyBundle, load_bundle
from spin_gateway.policy.candidate import Structure, structure
from spin_gateway.policy.candidate import check as check_candidate
from spin_gateway.policy.decision_cache import DEFAULT_SIZE, DecisionCache
from spin_gateway.policy.determinism import analyse
from spin_gateway.policy.engine import Engine
from spin_gateway.vocabulary.errors import PolicyError, PolicyLoadError, SpinError
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


def _name(by: Any) -> str:
    """Who asked for a reload, for the gateway's log (a records.Who, or a plain name)."""
    user = getattr(by, "user", None)
    return str(getattr(user, "name", None) or by)


class _Cache:
    """What the live engine may cache, decided when it loads: the cache, or why there is none."""

    def __init__(self, engine: Engine, size: int):
        self.cache: DecisionCache | None = None
        if not getattr(engine, "deterministic", False):
            # e.g. an OPA server: its bundle can change without this gateway's revision changing
            self.reason = f"the {engine.name} engine's answers may change without the revision changing"
        else:
            self.reason = analyse(engine.bundle.modules).reason
        pure = not self.reason
        #: Evaluate on the caller's thread: an engine in this process, with a library that cannot block on I/O.
        self.inline = pure and getattr(engine, "inline", False)
        if pure and size <= 0:
            self.reason = "turned off (decision cache size 0)"
        elif pure:
            self.cache = DecisionCache(engine.bundle.revision, engine.bundle.site, size)

    def log(self, revision: str) -> None:
        if self.cache is None:
            log.warning("decision cache off for revision %s: %s", revision, self.reason)
        else:
            log.info("decision cache on for revision %s (%d entries)", revision, self.cache.size)

    def summary(self) -> str:
        return "on" if self.cache is not None else f"off: {self.reason}"

    def info(self) -> dict[str, Any]:
        if self.cache is None:
            return {"enabled": False, "reason": self.reason}
        return {"enabled": True, **self.cache.stats()}


class PolicyService:
    def __init__(self, policy_dir: str | Path, site_data: str | Path | None = None, *,
                 factory: EngineFactory = default_factory, timeout: float = 2.0, cache_size: int = DEFAULT_SIZE):
        self.policy_dir = Path(policy_dir)
        self.site_data = Path(site_data) if site_data else None
        self.timeout = timeout
        self.cache_size = cache_size
        self._factory = factory
        self._lock = threading.Lock()
        self._engine: Engine = factory(load_bundle(self.policy_dir, self.site_data))
        # The engine and its cache, read together: a decision of one revision never lands in another's cache.
        self._live_pair = (self._engine, _Cache(self._engine, cache_size))
        self._live_pair[1].log(self.revision)
        # Evaluations run here so a hanging engine cannot hold a request past the timeout. As many threads
        # as the engine evaluates at once: more only wait inside it, where the wait would count as evaluating.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=getattr(self._engine, "concurrency", 4),
                                                           thread_name_prefix="policy")
        #: When the live revision started deciding (epoch seconds), and what put it there.
        self.loaded_at = time.time()
        self.loaded_by = "start"
        #: When the folder was last compared with the live revision (the watcher's poll or a reload call).
        self.checked_at: float | None = None
        #: When the refusal of the current candidate was first reported.
        self.refused_at: float | None = None
        self.last_reload_error: str | None = None
        #: The candidate revision last refused (None when unknown: the folder could not even be read).
        self.refused_candidate: str | None = None
        #: Where reloads are reported, as keyword arguments of audit/records.py's policy_reload (the gateway
        #: writes them to the audit log); None reports none.
        self.on_reload: Callable[[dict[str, Any]], Any] | None = None
        self._reload_lock = threading.Lock()  # the watcher and POST /v1/policy/reload, one at a time
        self._live_structure: Structure | None = None
        self._refused: tuple[str | None, str] | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def revision(self) -> str:
        return self._engine.bundle.revision

    def reload(self, trigger: str = "request", by: Any = None) -> bool:
        """Rebuild when the folder changed. True if a new revision is now active; PolicyLoadError if refused.

        `trigger` says what asked (watcher, request); `by` whom (passed through to the record: the caller).
        """
        with self._reload_lock:
            candidate: str | None = None
            self.checked_at = time.time()
            try:
                bundle = load_bundle(self.policy_dir, self.site_data)
                candidate = bundle.revision
                if candidate == self.revision:
                    self._clear_refusal()
                    return False
                if self._refused is not None and self._refused[0] == candidate:
                    raise PolicyLoadError(self._refused[1])  # decided already: the folder has not changed since
                live = self._live()
                checked = check_candidate(bundle, live)
                retired = sorted(set(live.outputs) - set(checked.outputs)) if live else []
                fresh = self._factory(bundle)  # compiles; raises PolicyLoadError
                try:
                    fresh_cache = _Cache(fresh, self.cache_size)
                    # On the record before it serves: a revision whose reload cannot be audited never decides.
                    self._record({"decision": "allow", "trigger": trigger, "by": by, "old": self.revision,
                                  "new": candidate, "retired_rules": retired,
                                  "decision_cache": fresh_cache.summary()})
                except BaseException:
                    fresh.close()
                    raise
                with self._lock:
                    old, self._engine = self._engine, fresh
                    self._live_pair = (fresh, fresh_cache)
                fresh_cache.log(candidate)
                old.close()
                log.info("policy reloaded (%s%s): revision %s replaced %s", trigger, f" by {_name(by)}" if by else "",
                         candidate, old.bundle.revision)
                self.loaded_at, self.loaded_by = time.time(), trigger + (f" by {_name(by)}" if by else "")
                self._live_structure = checked
                self._clear_refusal()
                return True
            except PolicyLoadError as exc:
                self._refuse(candidate, exc.message, trigger, by)
                raise

    def _live(self) -> Structure | None:
        if self._live_structure is None or self._live_structure.revision != self.revision:
            try:
                self._live_structure = structure(self._engine.bundle)
            except PolicyLoadError as exc:  # the live library itself cannot be probed: check the candidate alone
                log.warning("the live policy revision %s cannot be probed: %s", self.revision, exc.message)
                return None
        return self._live_structure

    def _clear_refusal(self) -> None:
        self.last_reload_error = None
        self.refused_candidate = None
        self.refused_at = None
        self._refused = None

    def _refuse(self, candidate: str | None, reason: str, trigger: str, by: Any = None) -> None:
        """Reported once per candidate and reason: the watcher asks again every few seconds."""
        if self._refused != (candidate, reason):
            log.error("policy change refused (%s%s), revision %s keeps serving: %s", trigger,
                      f" by {_name(by)}" if by else "", self.revision, reason)
            self.refused_at = time.time()
            try:
                self._record({"decision": "deny", "trigger": trigger, "by": by, "old": self.revision,
                              "new": candidate, "reason": reason})
            except SpinError as exc:  # the refusal stands either way; the log line above says why
                log.error("the refused reload could not be audited: %s", exc.message)
        self._refused = (candidate, reason)
        self.last_reload_error = reason
        self.refused_candidate = candidate

    def _record(self, event: dict[str, Any]) -> None:
        if self.on_reload is not None:
            self.on_reload({**event, "policy_dir": str(self.policy_dir)})

    def try_reload(self) -> None:
        """The watcher's call: never raises; a refused change is logged and audited once, the old revision serves."""
        try:
            self.reload(trigger="watcher")
        except PolicyLoadError:
            pass  # reported by reload(): last_reload_error, the log, the audit record
        except SpinError as exc:  # e.g. the audit log refused the record: the live revision stays
            log.error("policy reload failed, revision %s keeps serving: %s", self.revision, exc.message)

    @property
    def decision_cache(self) -> dict[str, Any]:
        """For `spin policy status`: on, with its counts, or off and why."""
        return self._live_pair[1].info()

    def evaluate(self, policy_input: dict[str, Any], engine: Engine | None = None,
                 inline: bool = False) -> dict[str, Any]:
        engine = engine or self._engine
        if inline:
            answer = engine.evaluate_within(policy_input, self.timeout,  # type: ignore[attr-defined]
                                            self.timeout * QUEUE_WAIT_FACTOR)
            if not isinstance(answer, dict):
                raise PolicyError("policy answered with something other than an object under data.spin.admission")
            return answer
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
        engine, live = self._live_pair
        started = time.perf_counter()
        cache, key, cached, claimed = live.cache, None, False, False
        try:
            answer = None
            if cache is not None:
                key = cache.key(policy_input)
                hit, claimed = cache.get_or_claim(key, self.timeout * QUEUE_WAIT_FACTOR)
                if hit is not None:
                    answer, cached = json.loads(hit), True  # fresh objects: nothing downstream shares the entry
            if answer is None:
                try:
                    answer = self.evaluate(policy_input, engine, live.inline)
                except BaseException:
                    if claimed and cache is not None and key is not None:
                        cache.release(key)
                    raise
                if claimed and cache is not None and key is not None:
                    cache.put(key, json.dumps(answer))
            violations = _violations(answer)
            patches = list(answer.get("patch") or [])
            warnings = sorted(str(w) for w in answer.get("warn") or [])
            error = None
        except Exception as exc:  # fail closed: anything that stops a decision is a denial (and is never cached)
            message = exc.message if isinstance(exc, SpinError) else f"{type(exc).__name__}: {exc}"
            violations = [Violation(rule="policy-error", message=f"the policy could not decide: {message}")]
            patches, warnings, error = [], [], message
        return Decision(
            call_id=call_id, operation=operation, kind=kind, name=name,  # type: ignore[arg-type]
            allowed=not violations, violations=violations, warnings=warnings, patches=patches,
            revision=engine.bundle.revision, engine=engine.name,
            duration_ms=round((time.perf_counter() - started) * 1000, 3), error=error,
            cached=cached, input_hash=key,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._engine.close()
