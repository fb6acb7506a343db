"""Whether a policy library decides as a pure function of (revision, site data, input).

A decision may be cached only when nothing but its inputs can change it. OPA knows which of its
built-ins are not so (its capabilities mark them `nondeterministic`: the clock, randomness, the
network, the runtime's environment); a library that calls one of them must be evaluated every time.

The modules are read as OPA reads them, through OPA's own parser (`rego.parse_module` in the
embedded engine), and the calls are found in the syntax tree: a comment or a string that merely
mentions `time.now_ns` does not count, a call does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The built-ins OPA 1.22's capabilities mark `nondeterministic` (`opa capabilities --current`;
#: tests/policy/test_decision_cache.py compares this with the real `opa` binary when it is there).
OPA_NONDETERMINISTIC = frozenset({
    "http.send", "io.jwt.decode_verify", "io.jwt.encode_sign", "io.jwt.encode_sign_raw", "json.match_schema",
    "json.verify_schema", "net.lookup_ip_addr", "opa.runtime", "rand.intn", "time.now_ns", "uuid.rfc4122",
})

#: Not marked by OPA, but their answer depends on the clock all the same (a certificate's validity
#: is checked against the current time).
CLOCK_DEPENDENT = frozenset({
    "crypto.x509.parse_and_verify_certificates", "crypto.x509.parse_and_verify_certificates_with_options",
})

NONDETERMINISTIC = OPA_NONDETERMINISTIC | CLOCK_DEPENDENT


@dataclass(frozen=True)
class Determinism:
    deterministic: bool
    #: Why not (for the load log and `spin policy status`); empty when deterministic.
    reason: str = ""


def _ref_names(ref: list[Any]) -> list[str]:
    """The dotted names a ref could call: `time.now_ns` for [var time, string now_ns], and its prefixes."""
    parts: list[str] = []
    for i, term in enumerate(ref):
        if not isinstance(term, dict):
            break
        if (i == 0 and term.get("type") != "var") or (i > 0 and term.get("type") != "string"):
            break
        parts.append(str(term.get("value")))
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def builtin_uses(tree: Any, wanted: frozenset[str] = NONDETERMINISTIC) -> set[str]:
    """The names in `wanted` that a module's syntax tree (rego.parse_module's JSON) refers to.

    Every ref counts, not only those in call position (`with time.now_ns as ...` too): a false
    positive only costs the cache, a miss would cache a decision that must not be.
    """
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "ref" and isinstance(node.get("value"), list):
                found.update(n for n in _ref_names(node["value"]) if n in wanted)
            for key, value in node.items():
                if key != "comments":
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _parse(modules: dict[str, str]) -> dict[str, Any]:
    from opa_bindings import OpaEngine, OpaError

    engine = OpaEngine()
    try:
        out = {}
        for path, source in modules.items():
            try:
                rows = engine.eval_query("tree := rego.parse_module(input.path, input.source)",
                                         {"path": path, "source": source})
            except OpaError as exc:
                raise ValueError(f"{path}: {exc.message}") from None
            out[path] = rows[0]["tree"] if rows else None
        return out
    finally:
        engine.close()


def analyse(modules: dict[str, str]) -> Determinism:
    """Deterministic unless a module calls a non-deterministic built-in (or cannot be read to tell)."""
    try:
        trees = _parse(modules)
    except ImportError:
        return Determinism(False, "the embedded OPA engine, which reads the modules to tell, is not installed")
    except ValueError as exc:
        return Determinism(False, f"a module could not be parsed to tell: {exc}")
    uses = {path: sorted(builtin_uses(tree)) for path, tree in sorted(trees.items())}
    named = [f"{path} calls {', '.join(names)}" for path, names in uses.items() if names]
    if named:
        return Determinism(False, "the library uses non-deterministic built-ins: " + "; ".join(named))
    return Determinism(True)
