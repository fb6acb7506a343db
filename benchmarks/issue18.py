"""Issue 18's figures, in one run: job arrays at full speed.

    .venv/bin/python benchmarks/run.py --only 18 [--quick] [--kubeconfig PATH]

  decision     our in-process decision (cache off: every call evaluated; and a cache hit) beside `opa bench`
               on the same library, site data and inputs, as a ratio; where the difference goes (opa_floor.py)
  arrays       200 clients, check+up, manifests backend: a cold array (every request a project never seen)
               and a warm one (every request the same project, the same compose, one user), each as a ratio
               of the /healthz floor measured in the same run
  audit        records a second on disk (fsync on, plans of 22 records) from 1 and from 200 writers
  cli          `spin config --format json` beside `docker compose config --format json` (cli_start.py)
  kubernetes   the arrays again with the Kubernetes backend against a real control plane (--kubeconfig, or
               SPIN_TEST_KUBECONFIG): the compose is scaled to 0 replicas so a shared node runs no pods, and
               every namespace the run made is deleted after it
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import audit, cli_start, opa_floor, server, wrkload

ROOT = Path(__file__).resolve().parent.parent


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _arrays(url: str, facility: dict, seconds: float, client: str, replicas: int | None = None) -> dict[str, Any]:
    floor = wrkload.run(url, "healthz", "", 200, seconds)
    out = {"floor": floor}
    for kind in ("cold", "warm"):
        out[kind] = wrkload.run(url, "policy", facility["token"], 200, seconds, facility["user"], projects=kind,
                                replicas=replicas)
    return out


def _array_rows(prefix: str, res: dict[str, Any], rows: list, fmt: Callable, verdict: Callable) -> None:
    floor = res["floor"].get("ok_per_s", 0.0)
    rows.append((f"{prefix} /healthz floor ok/s (200 clients)", fmt(floor), "-", "-"))
    for kind, target in (("cold", None), ("warm", 0.25)):
        r = res[kind]
        ratio = _ratio(r.get("ok_per_s", 0.0), floor)
        errs = f"{r['errors']} {r['error_kinds'] or ''}".strip()
        rows.append((f"{prefix} {kind} array check+up ok/s", f"{fmt(r.get('ok_per_s', 0.0))} "
                     f"(p50 {fmt(r['p50'])} ms, errors {errs})",
                     ">= 80 (2x issue 7's 40)" if kind == "cold" else "-",
                     verdict(r.get("ok_per_s", 0.0) >= 80) if kind == "cold" else "-"))
        rows.append((f"{prefix} {kind} array / floor", f"{ratio:.4f}", f">= {target}" if target else "-",
                     verdict(ratio >= target and r["errors"] == 0) if target else "-"))


def _kube_cleanup(kubeconfig: str, prefixes: tuple[str, ...]) -> int:
    """Delete every namespace the run made (its projects' names start with the run's prefixes)."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    gone = 0
    for ns in api.list_namespace().items:
        if ns.metadata.name.startswith(prefixes):
            api.delete_namespace(ns.metadata.name)
            gone += 1
    return gone


SECTIONS = ("decision", "arrays", "audit", "cli", "kubernetes")


def run(say: Callable[[str], None], rows: list, fmt: Callable, verdict: Callable, *, seconds: float,
        dseconds: float, client: str, kubeconfig: str | None, sections: tuple[str, ...] = SECTIONS) -> None:
    if "decision" in sections:
        _decision(say, rows, fmt, verdict, dseconds)
    if "arrays" in sections:
        with server.gateway() as g:
            res = _arrays(g["url"], g["facility"], seconds, client)
        for kind in ("floor", "cold", "warm"):
            say(f"[18.2] manifests backend, {kind}: {res[kind]}")
        _array_rows("18.2", res, rows, fmt, verdict)
    if "audit" in sections:
        _audit(say, rows, fmt, seconds)
    if "cli" in sections:
        _cli(say, rows, fmt, verdict, seconds)
    if "kubernetes" in sections:
        _kubernetes(say, rows, fmt, verdict, seconds, client, kubeconfig)


def _decision(say, rows, fmt, verdict, dseconds: float) -> None:
    d = opa_floor.run(dseconds)
    s = opa_floor.summarise(d)
    say(f"[18.1] decisions beside opa bench ({d['opa'] or 'opa binary missing: bash benchmarks/setup.sh'})")
    for row in d["rows"]:
        o = row.get("opa") or {}
        p = row["parts"]
        say(f"    {row['shape']:<34} ours p50={row['decide']['p50']:.3f} p99={row['decide']['p99']:.3f} ms  "
            f"cached p50={row['cached']['p50']:.3f} p99={row['cached']['p99']:.3f}  "
            f"opa bench p50={o.get('p50', float('nan')):.3f} p99={o.get('p99', float('nan')):.3f} ms"
            + (f"  [{row['opa_error']}]" if "opa_error" in row else ""))
        say(f"    {'':<34} CPU ms: marshal {p['marshal']:.3f}  hop {p['hop']:.3f}  evaluate {p['evaluate']:.3f}  "
            f"decode {p['decode']:.3f}  assemble {p['assemble']:.3f}  = decide {p['decide_cpu']:.3f}")
    say(f"    the mutate-then-validate second round of a patched Deployment: {d['round2_cpu']:.3f} ms CPU "
        f"(decide_call {d['decide_call_cpu']:.3f} ms)")
    rows.append(("18.1 decision p50 / p99 (cache off)", f"{fmt(s['decide_p50'])} / {fmt(s['decide_p99'])} ms",
                 "p99 < 1 ms", verdict(s["decide_p99"] < 1)))
    rows.append(("18.1 opa bench p50 / p99 (same inputs)", f"{fmt(s['opa_p50'])} / {fmt(s['opa_p99'])} ms", "-", "-"))
    r99 = _ratio(s["decide_p99"], s["opa_p99"])
    rows.append(("18.1 decision p99 / opa bench p99", f"{r99:.2f}", "<= 1.5", verdict(r99 <= 1.5)))
    rows.append(("18.1 decision p50 / opa bench p50", f"{_ratio(s['decide_p50'], s['opa_p50']):.2f}", "-", "-"))
    rows.append(("18.1 cached decision p50 / p99", f"{fmt(s['cached_p50'])} / {fmt(s['cached_p99'])} ms", "-", "-"))



def _audit(say, rows, fmt, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="spin-audit-bench-", dir=ROOT / "benchmarks") as tmp:
        for clients in (1, 200):
            a = audit.concurrent_rate(Path(tmp), clients=clients, batch=22, seconds=min(seconds, 10))
            say(f"[18.3] audit, {clients} writer(s), plans of 22 records, fsync on: {a}")
            rows.append((f"18.3 audit records/s, fsync, {clients} client(s)",
                         f"{fmt(a['per_s'])} ({a['writes_per_fsync']:.1f} plans per fsync)", "-", "-"))



def _cli(say, rows, fmt, verdict, seconds: float) -> None:
    c = cli_start.run(limit=6, runs=5 if seconds < 20 else 10)
    say(f"[18.4] spin config vs docker compose config ({c.get('tool')}, {c.get('compose')}):")
    for row in c.get("rows", []):
        say(f"    {row}")
    if "error" in c:
        say(f"    {c['error']}")
    rows.append(("18.4 spin config --format json (median of samples)", fmt(c.get("spin_ms", float("nan")), " ms"),
                 "-", "-"))
    rows.append(("18.4 docker compose config --format json", fmt(c.get("compose_ms", float("nan")), " ms"), "-", "-"))
    rows.append(("18.4 spin / docker compose wall time", f"{c.get('ratio', float('nan')):.2f}", "<= 1.5",
                 verdict(c.get("ratio", 99) <= 1.5)))



def _kubernetes(say, rows, fmt, verdict, seconds: float, client: str, kubeconfig: str | None) -> None:
    kubeconfig = kubeconfig or os.environ.get("SPIN_TEST_KUBECONFIG")
    if not kubeconfig:
        say("[18.5] Kubernetes: no kubeconfig (--kubeconfig or SPIN_TEST_KUBECONFIG): not measured")
        return
    salt = uuid.uuid4().hex[:4]
    # Every project of the run is named from these, so the cleanup finds them (and nothing of anyone else's).
    wrkload.PROJECTS["cold"] = wrkload.PROJECTS["cold"].replace('"cold-"', f'"k{salt}-"')
    wrkload.PROJECTS["warm"] = wrkload.PROJECTS["warm"].replace('"warm-array-"', f'"k{salt}-warm-"')
    try:
        with server.gateway(backend_args=["--backend", "kubernetes", "--kubeconfig", kubeconfig]) as g:
            res = _arrays(g["url"], g["facility"], seconds, client, replicas=0)
        for kind in ("floor", "cold", "warm"):
            say(f"[18.5] kubernetes backend, {kind}: {res[kind]}")
        _array_rows("18.5 k8s", res, rows, fmt, verdict)
    finally:
        wrkload.PROJECTS["cold"] = wrkload.PROJECTS["cold"].replace(f'"k{salt}-"', '"cold-"')
        wrkload.PROJECTS["warm"] = wrkload.PROJECTS["warm"].replace(f'"k{salt}-warm-"', '"warm-array-"')
        say(f"[18.5] deleted {_kube_cleanup(kubeconfig, (f'k{salt}-',))} namespaces the run made")
