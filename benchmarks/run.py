"""One command for issue 7's six figures, printed with the targets beside them.

    bash benchmarks/run.sh [--quick] [--client wrk|httpx] [--policy-dir DIR] [--no-save]

(run.sh installs wrk and py-spy first; .venv/bin/python benchmarks/run.py takes the same options.)

Writes the output to benchmarks/results/latest.txt too. Figures only: nothing
here asserts a timing; a missed target prints MISS, not a failure.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import threading
import time
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


def _load(url: str, mode: str, token: str, client: str, seconds: float, act_as: str = "") -> dict:
    fn = wrkload.run if client == "wrk" else load.run
    return fn(url, mode, token, 200, seconds, act_as)


def _probing(url: str, stop: threading.Event, out: list[float]) -> None:
    """What a liveness probe sees while the gateway is under load: one /healthz every 0.2 s."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.wait(0.2):
            t = time.perf_counter()
            try:
                http.get("/healthz").raise_for_status()
                out.append(time.perf_counter() - t)
            except httpx.HTTPError:
                out.append(float("inf"))


def _load_with_probe(url: str, facility: dict, client: str, seconds: float) -> tuple[dict, dict]:
    stop, probe = threading.Event(), []
    prober = threading.Thread(target=_probing, args=(url, stop, probe), daemon=True)
    prober.start()
    try:
        pol = _load(url, "policy", facility["token"], client, seconds, facility["user"])
    finally:
        stop.set()
        prober.join()
    return pol, summary_ms(probe)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _fmt(v, unit="") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    return f"{v:,.2f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def _verdict(ok) -> str:
    return "n/a" if ok is None else ("ok" if ok else "MISS")


def _with_gateway_go_settings() -> None:
    """Measure in-process decisions with the Go settings `gateway serve` uses: Go reads them only at
    process start, so start this runner again with them (as the gateway does)."""
    from spin_gateway.gateway_api.go_runtime import missing

    add = missing()
    if add:
        os.environ.update(add)
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _issue7(args, say, rows, pdir: Path, secs: float, dsecs: float) -> None:
    d = decisions.run(dsecs, pdir)
    say(f"[1] decisions: {d['modules']} modules, revision {d['revision']}, inputs: the translated 10-service project "
        f"and its workloads made privileged {d['kinds']} ({d['allowed']} allowed, {d['denied']} denied)")
    for k in ("decide", "raw"):
        say(f"    {k:7s} n={d[k]['n']} p50={d[k]['p50']:.3f} ms p99={d[k]['p99']:.3f} ms {d[k]['per_s']:,.0f}/s")
    rows.append(("1 decision p50 (PolicyService.decide)", _fmt(d["decide"]["p50"], " ms"), "-", "-"))
    rows.append(("1 decision p99 (PolicyService.decide)", _fmt(d["decide"]["p99"], " ms"), "< 1 ms",
                 _verdict(d["decide"]["p99"] < 1)))
    t = d["three"]  # issue 4: one Deployment of three containers under the full library
    say(f"    3-container Deployment ({t['patches']} patches, {t['rounds']} rounds, allowed={t['allowed']}): "
        + "; ".join(f"{k} p50={t[k]['p50']:.3f} p99={t[k]['p99']:.3f} ms" for k in ("decide", "raw", "decide_call")))
    rows.append(("1 3-container Deployment decide p99", _fmt(t["decide"]["p99"], " ms"), "< 1 ms",
                 _verdict(t["decide"]["p99"] < 1)))
    rows.append(("1 decisions/s (one thread)", _fmt(d["decide"]["per_s"]), "-", "-"))
    rows.append(("1 raw engine evaluate p99", _fmt(d["raw"]["p99"], " ms"), "(comparison)", "-"))
    # Go evaluates on the calling thread, so its CPU time is the evaluation without the machine's other work
    rows.append(("1 raw evaluate p50 / p99, thread CPU time", f"{_fmt(d['raw']['cpu']['p50'])} / "
                 f"{_fmt(d['raw']['cpu']['p99'])} ms", "(< 1 ms)", _verdict(d["raw"]["cpu"]["p99"] < 1)))
    g = decisions.run_with_env(dsecs, {"GOGC": "100", "GOMEMLIMIT": "off"}, pdir)
    if "decide" in g:
        say(f"    Go's own defaults, GOGC=100 (fresh process): decide p50={g['decide']['p50']:.3f} "
            f"p99={g['decide']['p99']:.3f} ms {g['decide']['per_s']:,.0f}/s; raw p50={g['raw']['p50']:.3f} "
            f"p99={g['raw']['p99']:.3f} ms {g['raw']['per_s']:,.0f}/s")
        rows.append(("1 decision p99 at GOGC=100 (Go default)", _fmt(g["decide"]["p99"], " ms"), "(comparison)", "-"))
        rows.append(("1 decisions/s at GOGC=100", _fmt(g["decide"]["per_s"]), "(comparison)", "-"))

    c = check.run(dsecs, pdir)
    say(f"[2] check in-process: {c}")
    rows.append(("2 check 10 svc p99 (in-process)", _fmt(c.get("p99"), " ms") if "p99" in c else "blocked",
                 "< 50 ms", _verdict(c["p99"] < 50) if "p99" in c else "n/a"))
    if "cpu" in c:
        rows.append(("2 check 10 svc p50 / p99, process CPU time", f"{_fmt(c['cpu']['p50'])} / {_fmt(c['cpu']['p99'])} ms",
                     "(< 50 ms)", _verdict(c["cpu"]["p99"] < 50)))

    results = {}
    for workers in (1, 2):
        with server.gateway(workers=workers, policy_dir=pdir) as g:
            if workers == 1:
                h = _http_check(g["url"], g["tokens"]["alice"], dsecs)
                say(f"[2] check over HTTP (one client, sequential): {h}")
                rows.append(("2 check 10 svc p99 (HTTP)", _fmt(h.get("p99"), " ms") if "p99" in h else "blocked",
                             "< 50 ms", _verdict(h["p99"] < 50) if "p99" in h else "n/a"))
            floor = _load(g["url"], "healthz", "", args.client, secs)
            pol, probe = _load_with_probe(g["url"], g["facility"], args.client, secs)
            mem = server.rss_mb(g["pid"])
            results[workers] = (floor, pol, mem, probe)
            say(f"[{'3/4/5' if workers == 1 else '6'}] workers={workers} healthz: {floor}")
            say(f"    workers={workers} check+up: {pol}")
            say(f"    workers={workers} /healthz probe during check+up: p50={probe['p50']:.1f} ms p99={probe['p99']:.1f} ms n={probe['n']}")
            say(f"    workers={workers} RSS MB by pid: { {p: round(v, 1) for p, v in mem.items()} }")

    floor, pol, mem, probe = results[1]
    done = pol["ok"] > 0  # nothing answered in time: no figure, not a pass
    rows.append(("3 check+up ok/s, 200 clients", _fmt(pol.get("ok_per_s", pol["per_s"])), "-", "-"))
    rows.append(("3 check+up p50 / p99", f"{_fmt(pol['p50'])} / {_fmt(pol['p99'])} ms" if done else "n/a", "-", "-"))
    rows.append(("3 errors at 200 clients", f"{pol['errors']} {pol['error_kinds'] or ''}".strip(), "0",
                 _verdict(pol["errors"] == 0 if done else None)))
    rows.append(("4 /healthz floor ok/s (p99)", f"{_fmt(floor.get('ok_per_s', floor['per_s']))} ({_fmt(floor['p99'])} ms)",
                 "-", "-"))
    ratio = pol.get("ok_per_s", pol["per_s"]) / max(floor.get("ok_per_s", floor["per_s"]), 1e-9)
    rows.append(("4 policy-checked / floor", f"{ratio:.3f}", ">= 0.25", _verdict(ratio >= 0.25 if done else None)))
    rows.append(("4 /healthz probe p99 during check+up", _fmt(probe["p99"], " ms"), "-", "-"))
    rss = max(mem.values()) if mem else float("nan")
    rows.append(("5 gateway RSS after load", _fmt(rss, " MB"), "< 200 MB", _verdict(rss < 200)))
    floor2, pol2, mem2, _probe2 = results[2]
    done2 = pol2["ok"] > 0
    rows.append(("6 two workers check+up ok/s", _fmt(pol2.get("ok_per_s", pol2["per_s"])), "-", "-"))
    rows.append(("6 two workers check+up p50 / p99", f"{_fmt(pol2['p50'])} / {_fmt(pol2['p99'])} ms" if done2 else "n/a",
                 "-", "-"))
    rows.append(("6 two workers /healthz ok/s", _fmt(floor2.get("ok_per_s", floor2["per_s"])), "-", "-"))
    rows.append(("6 two workers errors", f"{pol2['errors']} {pol2['error_kinds'] or ''}".strip(), "0",
                 _verdict(pol2["errors"] == 0 if done2 else None)))
    rows.append(("6 two workers RSS per worker (max)", _fmt(max(mem2.values()) if mem2 else float("nan"), " MB"),
                 "< 200 MB", _verdict(max(mem2.values()) < 200 if mem2 else None)))
    rows.append(("6 two workers RSS (all processes)", _fmt(sum(mem2.values()), " MB"), "-", "-"))



def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short runs (10 s of load, 1 s of decisions)")
    ap.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if wrkload.available() else "httpx")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--policy-dir", default=str(ROOT / "rego"), help="measure another library (a copy of a branch's rego/)")
    ap.add_argument("--only", choices=["7", "18"], help="only issue 7's figures, or only issue 18's")
    ap.add_argument("--kubeconfig", help="issue 18's arrays against this cluster too (default: SPIN_TEST_KUBECONFIG)")
    ap.add_argument("--sections", default="decision,arrays,audit,cli,kubernetes",
                    help="which of issue 18's figures (comma-separated)")
    args = ap.parse_args()
    _with_gateway_go_settings()
    # At 200 clients a check+up answer takes seconds; wrk counts only answers that arrive before it stops,
    # so the run must last many answer times or it counts nothing.
    secs = 10.0 if args.quick else 30.0
    dsecs = 1.0 if args.quick else 5.0

    buf = io.StringIO()

    def say(line: str = "") -> None:
        print(line, flush=True)
        buf.write(line + "\n")

    say(f"spin benchmarks  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  "
        f"{platform.python_implementation()} {platform.python_version()}  cores={os.cpu_count()}  "
        f"mode={'quick' if args.quick else 'full'}  load client={args.client} (shares the cores with the gateway)  "
        f"load average {_loadavg()}  "
        f"GOGC={os.environ.get('GOGC', 'unset (100)')} GOMEMLIMIT={os.environ.get('GOMEMLIMIT', 'unset')}")
    rows = []
    pdir = Path(args.policy_dir).resolve()
    say(f"policy folder: {pdir}")

    if args.only != "18":
        _issue7(args, say, rows, pdir, secs, dsecs)
    if args.only != "7":
        from benchmarks import issue18

        issue18.run(say, rows, _fmt, _verdict, seconds=secs, dseconds=dsecs, client=args.client,
                    kubeconfig=args.kubeconfig, sections=tuple(args.sections.split(",")))

    say()
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "measured", "target", "")
    say("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
    for r in rows:
        say("  ".join(x.ljust(w[i]) for i, x in enumerate(r)))
    say(f"load average at the end: {_loadavg()} (other work on the machine competes for the same cores)")
    if not args.no_save:
        out = ROOT / "benchmarks/results/latest.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(buf.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
