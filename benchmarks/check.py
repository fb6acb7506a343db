"""Part 2: `check` (dry run) of a 10-service compose file, in-process through Gateway.up(dry_run=True)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.inputs import compose_model
from benchmarks.stats import summary_ms

ROOT = Path(__file__).resolve().parent.parent


def run(seconds: float, policy_dir: Path = ROOT / "rego") -> dict:
    from spin_gateway.gateway_api.gateway import Caller
    from spin_gateway.gateway_api.settings import Settings
    from spin_gateway.gateway_api.wiring import make_gateway

    with tempfile.TemporaryDirectory(prefix="spin-bench-") as tmp:
        state = Path(tmp)
        settings = Settings(backend="manifests", manifests_dir=state / "manifests", audit_log=state / "audit.log",
                            state_dir=state, users=ROOT / "examples/users.yaml", policy_dir=policy_dir)
        gw, _signer = make_gateway(settings)
        caller = Caller(identity=gw.identity.lookup("alice"), token_id="bench")
        model = compose_model(10)
        try:
            gw.up(caller, "bench", model, dry_run=True)  # warm up; raises if the path is not there yet
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {str(exc)[:160]}"}
        samples: list[float] = []
        cpu: list[float] = []  # the process's CPU time (all its threads, Go's included): not inflated by other work
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and len(samples) < 10_000:
            t, u = time.perf_counter(), time.process_time()
            gw.up(caller, "bench", model, dry_run=True)
            cpu.append(time.process_time() - u)
            samples.append(time.perf_counter() - t)
        gw.policy.close()
        out = summary_ms(samples)
        out["cpu"] = summary_ms(cpu)
        return out
