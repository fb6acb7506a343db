"""Issue 18's floor for one decision: the real `opa bench` on the same library, site data and inputs,
beside our in-process decision, and where the difference goes.

Inputs: one of each shape a 10-service `check` decides (Namespace, Deployment, Service, NetworkPolicy),
the Deployment after its patches (the second, validating round) and the Deployment made privileged
(denied). `opa bench` evaluates `data.spin.admission` on each with the bundle `spin policy bundle`
writes (the same modules and data.spin.config); its own timer histogram gives p50 and p99 of the
evaluation. Ours is PolicyService.decide with the decision cache off (every call evaluated) and on
(what a repeated input costs), over the same inputs, one thread.

The parts, each measured on its own in this process (CPU time of the calling thread, median):
  marshal   json.dumps of the input in Python, plus Go parsing it into OPA's values: `x := true` with the
            input minus `x := true` without it
  hop       the ctypes/cgo crossing and the answer envelope, for a query that does nothing (`x := true`)
  evaluate  eval_document minus the two above: OPA's own work, what opa bench times
  decode    json.loads of an answer of the size the library returns
  assemble  PolicyService.decide minus eval_document: the Decision model, violations sorted, the cache key
  round 2   decide_call (mutate, then validate the patched object) minus one decide, for a patched workload
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.stats import summary_ms

ROOT = Path(__file__).resolve().parent.parent


def opa_binary() -> str | None:
    import os
    import shutil

    found = Path(os.environ.get("SPIN_KUBE_CACHE", "/var/cache/spin-kube")) / "bin/opa"
    return str(found) if found.exists() else shutil.which("opa")


def _shapes():
    """(label, call, input) for the six shapes, built as the interceptor builds them."""
    import jsonpatch

    from benchmarks.decisions import _inputs
    from spin_gateway.policy.admission_input import admission_input
    from spin_gateway.policy.service import PolicyService

    inputs = _inputs()
    picked: dict[str, Any] = {}
    for call, inp in inputs:
        priv = any((c.get("securityContext") or {}).get("privileged")
                   for c in (call.object.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []))
        label = f"{call.kind} (privileged, denied)" if priv else call.kind
        picked.setdefault(label, (call, inp))
    call, _ = picked["Deployment"]
    service = PolicyService(ROOT / "rego", cache_size=0)
    try:
        first = service.decide(call.id, call.operation, call.kind, call.name, picked["Deployment"][1])
    finally:
        service.close()
    patched = call.model_copy(update={"object": jsonpatch.apply_patch(call.object, first.patches, in_place=False)})
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.vocabulary.types import Plan

    alice = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")
    plan = Plan(project="bench", namespace=call.object["metadata"]["namespace"], owner="alice",
                facility_project="astro", calls=[])
    picked["Deployment, patched (round 2)"] = (patched, admission_input(patched, alice, plan, dry_run=True))
    order = ["Namespace", "Deployment", "Deployment, patched (round 2)", "Service", "NetworkPolicy",
             "Deployment (privileged, denied)"]
    return [(k, *picked[k]) for k in order if k in picked]


def _opa_bench(opa: str, bundle_dir: Path, inp: dict, folder: Path) -> dict[str, float]:
    """opa bench's own eval timer (input parsed once, outside it): p50 and p99. It runs with this process's
    GOGC/GOMEMLIMIT, which the runner sets to the gateway's."""
    path = folder / "input.json"
    path.write_text(json.dumps(inp))
    out = subprocess.run([opa, "bench", "--bundle", str(bundle_dir), "--input", str(path), "--format", "json",
                          "--benchmem=false", "--count", "1", "data.spin.admission"],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-400:] or out.stdout[-400:])
    result = json.loads(out.stdout)
    extra = result.get("Extra") or result.get("extra") or {}

    def pick(suffix: str) -> float:
        for key, value in extra.items():
            if "timer_rego_query_eval_ns" in key and key.endswith(suffix):
                return float(value) / 1e6
        return float("nan")

    n, total = result.get("N") or 0, result.get("T") or 0
    return {"p50": pick("median"), "p99": pick("99%"), "mean_op": total / n / 1e6 if n else float("nan"), "n": n}


def _cpu(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        t = time.thread_time()
        fn()
        samples.append(time.thread_time() - t)
    return summary_ms(samples)["p50"]


def _wall(fn, seconds: float) -> dict[str, float]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and len(samples) < 100_000:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return summary_ms(samples)


def run(seconds: float = 2.0) -> dict[str, Any]:
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.decide import decide_call
    from spin_gateway.policy.opa_bundle import write_bundle
    from spin_gateway.policy.service import PolicyService
    from spin_gateway.vocabulary.types import Plan

    opa = opa_binary()
    shapes = _shapes()
    out: dict[str, Any] = {"opa": opa, "rows": []}
    uncached = PolicyService(ROOT / "rego", cache_size=0)
    cached = PolicyService(ROOT / "rego")
    engine = uncached.engine._engines[0]  # type: ignore[attr-defined]  # one evaluator, for the parts
    alice = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")
    try:
        with tempfile.TemporaryDirectory(prefix="spin-opa-bench-") as tmp:
            bundle_dir = Path(tmp) / "bundle"
            write_bundle(ROOT / "rego", bundle_dir)
            for label, call, inp in shapes:
                row: dict[str, Any] = {"shape": label}
                if opa:
                    try:
                        row["opa"] = _opa_bench(opa, bundle_dir, inp, Path(tmp))
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                        row["opa_error"] = str(exc)[:200]
                def decide(c=call, i=inp):
                    return uncached.decide(c.id, c.operation, c.kind, c.name, i)

                def hit(c=call, i=inp):
                    return cached.decide(c.id, c.operation, c.kind, c.name, i)

                hit()
                row["decide"] = _wall(decide, seconds)
                row["cached"] = _wall(hit, seconds / 2)
                answer = engine.eval_document("spin.admission", inp)
                n = 300
                dumps = _cpu(lambda i=inp: json.dumps(i, ensure_ascii=False).encode(), n)
                with_input = _cpu(lambda i=inp: engine.eval_query("x := true", i), n)
                bare = _cpu(lambda: engine.eval_query("x := true"), n)
                raw = _cpu(lambda i=inp: engine.eval_document("spin.admission", i), n)
                text = json.dumps({"result": [{"expressions": [{"value": answer}]}]})
                decode = _cpu(lambda t=text: json.loads(t), n)
                whole = _cpu(decide, n)
                row["parts"] = {"marshal": with_input - bare + dumps, "hop": bare, "evaluate": raw - with_input,
                                "decode": decode, "assemble": whole - raw, "decide_cpu": whole}
                row["allowed"] = bool(answer.get("deny") == [] or not answer.get("deny"))
                out["rows"].append(row)
        # The second round, on the workload that has one: the interceptor's whole decision minus the first decide.
        _label, call, inp = shapes[1]
        plan = Plan(project="bench", namespace=call.object["metadata"]["namespace"], owner="alice",
                    facility_project="astro", calls=[])
        first = _cpu(lambda: uncached.decide(call.id, call.operation, call.kind, call.name, inp), 300)
        both = _cpu(lambda: decide_call(call, alice, plan, uncached, dry_run=True), 300)
        out["round2_cpu"] = both - first
        out["decide_call_cpu"] = both
    finally:
        uncached.close()
        cached.close()
    return out


def summarise(out: dict[str, Any]) -> dict[str, float]:
    """Over all shapes: the medians of the per-shape p50s and the worst p99s, ours and opa bench's."""
    rows = [r for r in out["rows"] if "opa" in r]
    mine = out["rows"]

    def worst(key: str, sub: str, rs) -> float:
        vals = [r[key][sub] for r in rs if r.get(key) and r[key][sub] == r[key][sub]]
        return max(vals) if vals else float("nan")

    def middle(key: str, sub: str, rs) -> float:
        vals = sorted(r[key][sub] for r in rs if r.get(key) and r[key][sub] == r[key][sub])
        return vals[len(vals) // 2] if vals else float("nan")

    return {"decide_p50": middle("decide", "p50", mine), "decide_p99": worst("decide", "p99", mine),
            "cached_p50": middle("cached", "p50", mine), "cached_p99": worst("cached", "p99", mine),
            "opa_p50": middle("opa", "p50", rows), "opa_p99": worst("opa", "p99", rows)}


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    result = run(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
    print(json.dumps(result, indent=1, default=str))
    print(json.dumps(summarise(result), indent=1))
