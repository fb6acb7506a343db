"""One command for issue 7's six figures, printed with the targets beside them.

    .venv/bin/python benchmarks/run.py [--quick] [--client wrk|httpx] [--no-save]

Writes the output to benchmarks/results/latest.txt too. Figures only: nothing
here asserts a timing; a missed target prints MISS, not a failure.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import check, decisions, load, server, wrkload  # noqa: E402
from benchmarks.inputs import compose_model  # noqa: E402
from benchmarks.stats import summary_ms  # noqa: E402


def _http_check(url: str, token: str, seconds: float) -> dict:
    import httpx

    samples, errors = [], 0
    body = {"compose": compose_model(10)}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and len(samples) + errors < 5000:
            t = time.perf_counter()
            try:
                r = http.post("/v1/projects/bench-seq/check", json=body)
            except httpx.HTTPError as exc:  # the server drops the connection after an unhandled error
                errors += 1
                if errors >= 20 and not samples:
                    return {"error": f"{type(exc).__name__}: {exc}"}
                continue
            if r.status_code == 200:
                samples.append(time.perf_counter() - t)
            else:
                errors += 1
                if errors >= 20 and not samples:
                    return {"error": f"HTTP {r.status_code}: {r.text[:160]}"}
    out = summary_ms(samples)
    out["errors"] = errors
    return out


def _load(url: str, mode: str, token: str, client: str, seconds: float) -> dict:
    fn = wrkload.run if client == "wrk" else load.run
    return fn(url, mode, token, 200, seconds)


def _fmt(v, unit="") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    return f"{v:,.2f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def _verdict(ok) -> str:
    return "n/a" if ok is None else ("ok" if ok else "MISS")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short runs (3 s of load, 1 s of decisions)")
    ap.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if wrkload.available() else "httpx")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    secs = 3.0 if args.quick else 10.0
    dsecs = 1.0 if args.quick else 5.0

    buf = io.StringIO()

    def say(line: str = "") -> None:
        print(line, flush=True)
        buf.write(line + "\n")

    say(f"spin benchmarks  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  "
        f"{platform.python_implementation()} {platform.python_version()}  cores={os.cpu_count()}  "
        f"mode={'quick' if args.quick else 'full'}  load client={args.client} (shares the cores with the gateway)")
    rows = []
    from benchmarks.standin_translate import needed

    standin = needed()
    say("translator: " + ("STAND-IN (translate.to_kubernetes has not landed; hand-built Deployments, "
                          "figures 2, 3 and 6 leave out the real translator's cost)" if standin else "translate.to_kubernetes"))

    d = decisions.run(dsecs)
    say(f"[1] decisions: {d['modules']} modules, revision {d['revision']}, inputs {d['source']} Deployments "
        f"({d['allowed']} allowed, {d['denied']} denied)")
    for k in ("decide", "raw"):
        say(f"    {k:7s} n={d[k]['n']} p50={d[k]['p50']:.3f} ms p99={d[k]['p99']:.3f} ms {d[k]['per_s']:,.0f}/s")
    rows.append(("1 decision p99 (PolicyService.decide)", _fmt(d["decide"]["p99"], " ms"), "< 1 ms",
                 _verdict(d["decide"]["p99"] < 1)))
    t = d["three"]  # issue 4: one Deployment of three containers under the full library
    say(f"    3-container Deployment ({t['patches']} patches, {t['rounds']} rounds, allowed={t['allowed']}): "
        + "; ".join(f"{k} p50={t[k]['p50']:.3f} p99={t[k]['p99']:.3f} ms" for k in ("decide", "raw", "decide_call")))
    rows.append(("1 3-container Deployment decide p99", _fmt(t["decide"]["p99"], " ms"), "< 1 ms",
                 _verdict(t["decide"]["p99"] < 1)))
    rows.append(("1 decisions/s (one thread)", _fmt(d["decide"]["per_s"]), "-", "-"))
    rows.append(("1 raw engine evaluate p99", _fmt(d["raw"]["p99"], " ms"), "(comparison)", "-"))
    g = decisions.run_with_env(dsecs, {"GOGC": "400"})
    if "decide" in g:
        say(f"    GOGC=400 (fresh process): decide p50={g['decide']['p50']:.3f} p99={g['decide']['p99']:.3f} ms "
            f"{g['decide']['per_s']:,.0f}/s; raw p50={g['raw']['p50']:.3f} p99={g['raw']['p99']:.3f} ms {g['raw']['per_s']:,.0f}/s")
        rows.append(("1 decision p99, GOGC=400", _fmt(g["decide"]["p99"], " ms"), "< 1 ms", _verdict(g["decide"]["p99"] < 1)))
        rows.append(("1 raw evaluate p99, GOGC=400", _fmt(g["raw"]["p99"], " ms"), "(comparison)", "-"))

    c = check.run(dsecs)
    say(f"[2] check in-process: {c}")
    rows.append(("2 check 10 svc p99 (in-process)", _fmt(c.get("p99"), " ms") if "p99" in c else "blocked",
                 "< 50 ms", _verdict(c["p99"] < 50) if "p99" in c else "n/a"))

    results = {}
    for workers in (1, 2):
        with server.gateway(workers=workers, standin=standin) as g:
            if workers == 1:
                h = _http_check(g["url"], g["tokens"]["alice"], dsecs)
                say(f"[2] check over HTTP (one client, sequential): {h}")
                rows.append(("2 check 10 svc p99 (HTTP)", _fmt(h.get("p99"), " ms") if "p99" in h else "blocked",
                             "< 50 ms", _verdict(h["p99"] < 50) if "p99" in h else "n/a"))
            floor = _load(g["url"], "healthz", "", args.client, secs)
            pol = _load(g["url"], "policy", g["tokens"]["alice"], args.client, secs)
            mem = server.rss_mb(g["pid"])
            results[workers] = (floor, pol, mem)
            say(f"[{'3/4/5' if workers == 1 else '6'}] workers={workers} healthz: {floor}")
            say(f"    workers={workers} check+up: {pol}")
            say(f"    workers={workers} RSS MB by pid: { {p: round(v, 1) for p, v in mem.items()} }")

    floor, pol, mem = results[1]
    rows.append(("3 check+up ok/s, 200 clients", _fmt(pol.get("ok_per_s", pol["per_s"])), "-", "-"))
    rows.append(("3 check+up p50 / p99", f"{_fmt(pol['p50'])} / {_fmt(pol['p99'])} ms", "-", "-"))
    rows.append(("3 errors at 200 clients", f"{pol['errors']} {pol['error_kinds'] or ''}".strip(), "0",
                 _verdict(pol["errors"] == 0)))
    rows.append(("4 /healthz floor ok/s (p99)", f"{_fmt(floor.get('ok_per_s', floor['per_s']))} ({_fmt(floor['p99'])} ms)",
                 "-", "-"))
    ratio = pol.get("ok_per_s", pol["per_s"]) / max(floor.get("ok_per_s", floor["per_s"]), 1e-9)
    rows.append(("4 policy-checked / floor", f"{ratio:.3f}", ">= 0.25", _verdict(ratio >= 0.25)))
    rss = max(mem.values()) if mem else float("nan")
    rows.append(("5 gateway RSS after load", _fmt(rss, " MB"), "< 200 MB", _verdict(rss < 200)))
    floor2, pol2, mem2 = results[2]
    rows.append(("6 two workers check+up ok/s", _fmt(pol2.get("ok_per_s", pol2["per_s"])), "-", "-"))
    rows.append(("6 two workers /healthz ok/s", _fmt(floor2.get("ok_per_s", floor2["per_s"])), "-", "-"))
    rows.append(("6 two workers errors", str(pol2["errors"]), "0", _verdict(pol2["errors"] == 0)))
    rows.append(("6 two workers RSS (all processes)", _fmt(sum(mem2.values()), " MB"), "-", "-"))

    say()
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "measured", "target", "")
    say("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
    for r in rows:
        say("  ".join(x.ljust(w[i]) for i, x in enumerate(r)))
    if not args.no_save:
        out = ROOT / "benchmarks/results/latest.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(buf.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
