"""Part 1: policy decisions through PolicyService.decide, and raw engine evaluate for comparison."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from benchmarks.inputs import PROJECT, denied_variant, translated
from benchmarks.stats import summary_ms

ROOT = Path(__file__).resolve().parent.parent


def _inputs():
    from spin_gateway.gateway_api import planning
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.admission_input import admission_input
    from spin_gateway.vocabulary.types import Call, Plan

    alice = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")
    namespace = planning.namespace_for(PROJECT)
    labels = planning.project_labels(PROJECT, alice.name, "astro")
    objs = translated(namespace, labels)
    objs = objs + [denied_variant(o) for o in objs if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    plan = Plan(project=PROJECT, namespace=namespace, owner=alice.name, facility_project="astro", calls=[])
    calls = [Call(id=f"{i:03d}", operation="CREATE", object=o) for i, o in enumerate(objs)]
    return [(c, admission_input(c, alice, plan, dry_run=True)) for c in calls]


def _timed(fn, seconds: float) -> dict:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and len(samples) < 200_000:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    s = summary_ms(samples)
    s["per_s"] = len(samples) / sum(samples)
    return s


def run_three(service, seconds: float) -> dict:
    """Issue 4's figure: one Deployment of three containers under the full library.

    `decide` is one evaluation (PolicyService.decide, what the p99 < 1 ms target is about);
    `decide_call` is the interceptor's whole decision: decide, apply the patches, decide again.
    """
    from benchmarks.inputs import three_container_deployment
    from spin_gateway.gateway_api import planning
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.admission_input import admission_input
    from spin_gateway.policy.decide import decide_call
    from spin_gateway.vocabulary.types import Call, Plan

    alice = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")
    namespace = planning.namespace_for(PROJECT)
    obj = three_container_deployment(namespace, planning.project_labels(PROJECT, alice.name, "astro"))
    plan = Plan(project=PROJECT, namespace=namespace, owner=alice.name, facility_project="astro", calls=[])
    call = Call(id="001", operation="CREATE", object=obj)
    inp = admission_input(call, alice, plan, dry_run=True)
    first = service.decide(call.id, call.operation, call.kind, call.name, inp)
    final = decide_call(call, alice, plan, service, dry_run=True)
    out = {"allowed": final.decision.allowed, "violations": [v.rule for v in final.decision.violations],
           "patches": len(first.patches), "rounds": len(final.rounds)}
    out["decide"] = _timed(lambda: service.decide(call.id, call.operation, call.kind, call.name, inp), seconds)
    out["raw"] = _timed(lambda: service.engine.evaluate(inp), seconds)
    out["decide_call"] = _timed(lambda: decide_call(call, alice, plan, service, dry_run=True), seconds)
    return out


def run(seconds: float, policy_dir: Path = ROOT / "rego") -> dict:
    from spin_gateway.policy.service import PolicyService

    service = PolicyService(policy_dir, cache_size=0)  # every decision evaluated (issue 18 measures the cache)
    try:
        inputs = _inputs()
        for c, inp in inputs:  # warm up, and check the denied half is denied
            service.decide(c.id, c.operation, c.kind, c.name, inp)
        outcomes = [service.decide(c.id, c.operation, c.kind, c.name, inp).allowed for c, inp in inputs]
        out = {"kinds": dict(Counter(c.kind for c, _ in inputs)), "revision": service.revision, "allowed": sum(outcomes),
               "denied": len(outcomes) - sum(outcomes), "modules": len(service.engine.bundle.modules)}
        for label, fn in (("decide", lambda c, i: service.decide(c.id, c.operation, c.kind, c.name, i)),
                          ("raw", lambda c, i: service.engine.evaluate(i))):
            samples: list[float] = []
            cpu: list[float] = []  # CPU time of the calling thread: what other work on the machine cannot inflate
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline and len(samples) < 200_000:
                for c, inp in inputs:
                    t, u = time.perf_counter(), time.thread_time()
                    fn(c, inp)
                    cpu.append(time.thread_time() - u)
                    samples.append(time.perf_counter() - t)
            s = summary_ms(samples)
            s["per_s"] = len(samples) / sum(samples)
            s["cpu"] = summary_ms(cpu)
            out[label] = s
        out["three"] = run_three(service, seconds)
        return out
    finally:
        service.close()


def run_with_env(seconds: float, env: dict[str, str], policy_dir: Path = ROOT / "rego") -> dict:
    """The same measurement in a fresh process: Go reads GOGC only when its runtime starts."""
    import json
    import os
    import subprocess
    import sys

    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks import decisions; "
            f"print(json.dumps(decisions.run({seconds!r}, {str(policy_dir)!r})))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=seconds * 4 + 60, cwd=ROOT)
    if out.returncode != 0:
        return {"error": out.stderr[-300:]}
    return json.loads(out.stdout.strip().splitlines()[-1])
