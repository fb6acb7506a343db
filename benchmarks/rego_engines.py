"""Which Rego engine from PyPI can run spin's policy library: correctness against OPA, and speed.

    python -m benchmarks.rego_engines [--seconds 3] [--markdown] [--out FILE]

The reference is OPA's own Go engine (opa-golib-python-bindings, the embedded
default). The inputs are exactly those the interceptor sends for every sample
of every rule (rego/*/samples), patched rounds included, recorded while OPA
decides them; each candidate must load the same modules and site data and give
the same data.spin.admission (deny, patch, warn) for each. Speed is measured on
issue 4's input: one Deployment of three containers under the full library.

The candidates are not dependencies of spin; to reproduce:
    pip install regopy gordon-to-regorus opa-eval
A candidate that is not installed, or cannot load the library, is reported as such.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.stats import summary_ms

ROOT = Path(__file__).resolve().parent.parent
REGO = ROOT / "rego"
QUERY = "data.spin.admission"


def _canonical(answer: Any) -> Any:
    """deny and warn are sets: order-free; patch is a list in OPA's sorted order."""
    if not isinstance(answer, dict):
        return answer
    return {"deny": sorted(json.dumps(v, sort_keys=True) for v in answer.get("deny") or []),
            "warn": sorted(json.dumps(v, sort_keys=True) for v in answer.get("warn") or []),
            "patch": [json.dumps(v, sort_keys=True) for v in answer.get("patch") or []]}


def recorded_inputs() -> list[tuple[str, dict, dict]]:
    """(sample, input, OPA's answer) for every evaluation `spin policy eval` makes on the samples."""
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.embedded import EmbeddedEngine
    from spin_gateway.policy.evaluate import evaluate_objects
    from spin_gateway.policy.samples import read_sample

    users = UsersFileProvider(ROOT / "examples/users.yaml")
    out: list[tuple[str, dict, dict]] = []

    for path in sorted(REGO.glob("*/samples/*.yaml")) + sorted(REGO.glob("pod_security/*/samples/*.yaml")):
        sample = read_sample(path)

        class Recorder:
            name = "recorder"

            def __init__(self, bundle):
                self.bundle, self._engine = bundle, EmbeddedEngine(bundle, pool_size=1)

            def evaluate(self, policy_input):
                answer = self._engine.evaluate(policy_input)
                out.append((path.relative_to(REGO).as_posix(), json.loads(json.dumps(policy_input)), answer))
                return answer

            def close(self):
                self._engine.close()

        evaluate_objects(path, users.lookup(sample.as_user), REGO, factory=Recorder)
    return out


def three_container_input() -> dict:
    from benchmarks.inputs import PROJECT, three_container_deployment
    from spin_gateway.gateway_api import planning
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.admission_input import admission_input
    from spin_gateway.vocabulary.types import Call, Plan

    alice = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")
    namespace = planning.namespace_for(PROJECT)
    obj = three_container_deployment(namespace, planning.project_labels(PROJECT, alice.name, "astro"))
    plan = Plan(project=PROJECT, namespace=namespace, owner=alice.name, facility_project="astro", calls=[])
    return admission_input(Call(id="001", operation="CREATE", object=obj), alice, plan, dry_run=True)


# -- candidates: each returns evaluate(input) -> answer, or raises while loading --------------

def _opa_golib(modules: dict[str, str], data: dict) -> Callable[[dict], Any]:
    from opa_bindings import OpaEngine

    engine = OpaEngine()
    for path, source in modules.items():
        engine.add_policy(path, source)
    engine.add_data(data)
    return lambda inp: engine.eval_document(QUERY.removeprefix("data."), inp)


def _regorus(modules: dict[str, str], data: dict) -> Callable[[dict], Any]:
    import regorus

    engine = regorus.Engine()
    for path, source in modules.items():
        engine.add_policy(path, source)
    engine.add_data_json(json.dumps(data))

    def evaluate(inp):
        engine.set_input_json(json.dumps(inp))
        # A package is no rule for eval_rule; a query answers {"result": [{"expressions": [{"value": ...}]}]},
        # as JSON: the Python conversion turns a set of objects into a Python set, which cannot hold dicts.
        results = json.loads(engine.eval_query_as_json(QUERY))["result"]
        if not results:
            raise RuntimeError(f"{QUERY} is undefined")
        return results[0]["expressions"][0]["value"]
    return evaluate


def _regopy(modules: dict[str, str], data: dict) -> Callable[[dict], Any]:
    import os

    import regopy

    interpreter = regopy.Interpreter()
    for path, source in modules.items():
        interpreter.add_module(path, source)
    interpreter.add_data_json(json.dumps(data))
    # rego-cpp prints its compile errors on file descriptor 1: keep them off the report.
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        probe = interpreter.query("x = 1")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    if not probe.ok():
        raise RuntimeError(str(probe))

    def evaluate(inp):
        interpreter.set_input_term(json.dumps(inp))
        out = interpreter.query(f"x = {QUERY}")
        if not out.ok():
            raise RuntimeError(str(out)[:300])
        return json.loads(str(out.binding("x")))
    return evaluate


def _opa_eval(modules: dict[str, str], data: dict) -> Callable[[dict], Any]:
    import opa_eval  # noqa: F401  (imported to tell "not installed" from "cannot load")

    if len(modules) > 1:
        raise RuntimeError(f"loads one .rego file per instance; the library has {len(modules)} modules in "
                           f"{len(modules)} packages, which cannot be joined into one file")
    raise RuntimeError("unreachable")


CANDIDATES = {
    "opa-golib-python-bindings": _opa_golib,
    "gordon-to-regorus": _regorus,
    "regopy": _regopy,
    "opa-eval": _opa_eval,
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("at ", "Stack"))]
    return " ".join(lines[:4])[:240]


def measure(seconds: float) -> dict[str, Any]:
    from spin_gateway.policy.bundle import load_bundle

    bundle = load_bundle(REGO)
    recorded = recorded_inputs()
    bench = three_container_input()
    results: dict[str, Any] = {}
    for name, make in CANDIDATES.items():
        row: dict[str, Any] = {"name": name}
        try:
            started = time.perf_counter()
            evaluate = make(bundle.modules, bundle.data)
            row["load_ms"] = round((time.perf_counter() - started) * 1000, 1)
        except ImportError:
            row["status"] = "not installed"
            results[name] = row
            continue
        except BaseException as exc:  # native engines raise their own kinds, PanicException included
            row["status"] = f"cannot load the library: {_first_line(exc)}"
            results[name] = row
            continue
        agree, wrong, errors = 0, [], []
        for sample, inp, reference in recorded:
            try:
                got = evaluate(inp)
            except BaseException as exc:
                errors.append(f"{sample}: {_first_line(exc)}")
                continue
            if _canonical(got) == _canonical(reference):
                agree += 1
            else:
                wrong.append(sample)
        row.update(status="ok" if agree == len(recorded) else "disagrees", agree=agree, total=len(recorded),
                   wrong=sorted(set(wrong)), errors=errors[:5], error_count=len(errors))
        if agree:
            samples: list[float] = []
            deadline = time.perf_counter() + seconds
            try:
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    evaluate(bench)
                    samples.append(time.perf_counter() - t)
                row["speed"] = {**summary_ms(samples), "per_s": round(len(samples) / sum(samples))}
            except BaseException as exc:
                row["speed"] = {"error": _first_line(exc)}
        results[name] = row
    return {"python": platform.python_version(), "inputs": len(recorded), "modules": len(bundle.modules),
            "revision": bundle.revision, "candidates": results}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Measured with `python -m benchmarks.rego_engines` (Python {report['python']}, policy revision "
             f"{report['revision']}, {report['modules']} modules, {report['inputs']} recorded inputs from every sample).",
             "",
             "| package | loads the library | agrees with OPA | 3-container Deployment p50 / p99 | decisions/s |",
             "|---|---|---|---|---|"]
    for row in report["candidates"].values():
        status = row.get("status", "")
        if "agree" not in row:
            lines.append(f"| {row['name']} | {status} | - | - | - |")
            continue
        agree = f"{row['agree']}/{row['total']}"
        if row["wrong"]:
            agree += f" (differs on {', '.join(row['wrong'][:3])}{'…' if len(row['wrong']) > 3 else ''})"
        if row["error_count"]:
            agree += f"; {row['error_count']} errors, e.g. {row['errors'][0]}"
        speed = row.get("speed", {})
        timing = f"{speed['p50']:.3f} / {speed['p99']:.3f} ms" if "p50" in speed else speed.get("error", "-")
        lines.append(f"| {row['name']} | yes ({row['load_ms']} ms) | {agree} | {timing} | {speed.get('per_s', '-')} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--markdown", action="store_true", help="the table for docs/policy-engine.md")
    ap.add_argument("--out", type=Path, help="write there (rego-cpp prints its compile errors on standard output)")
    args = ap.parse_args()
    report = measure(args.seconds)
    text = markdown(report) if args.markdown else json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
