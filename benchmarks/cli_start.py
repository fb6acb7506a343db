"""Issue 18: `spin config --format json` beside `docker compose config --format json`, wall time, same files.

Side by side in one run, per corpus sample (the awesome-compose corpus the loader is checked against),
with hyperfine (Debian's) when it is installed, else this runner's own loop; both start each command as a
fresh process, as a user's shell does. The docker-compose binary is the one benchmarks/setup.sh builds
from its Go module. Figures only.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("SPIN_COMPOSE_CORPUS") or "/work/shared/corpus/compose/awesome-compose")


def compose_binary() -> str | None:
    cache = Path(os.environ.get("SPIN_BENCH_CACHE", "/var/cache/spin-bench"))
    built = sorted(cache.glob("compose-*/bin/docker-compose"))
    return str(built[-1]) if built else shutil.which("docker-compose")


def samples(limit: int) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    found = sorted(p for p in CORPUS.iterdir() if p.is_dir() and (p / "reference.json").exists())
    return found[:limit]


def _own_runner(commands: dict[str, list[str]], cwd: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    out = {}
    for name, cmd in commands.items():
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)  # warm the page cache
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
            times.append(time.perf_counter() - t)
        out[name] = statistics.mean(times) * 1000
    return out


def _hyperfine(commands: dict[str, list[str]], cwd: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        cmd = ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs), "--export-json", export.name, "--style", "none"]
        for name, argv in commands.items():
            cmd += ["-n", name, " ".join(argv)]
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True, timeout=600)
        results = json.loads(Path(export.name).read_text())["results"]
    return {r["command"]: r["mean"] * 1000 for r in results}


def run(limit: int = 6, runs: int = 10) -> dict:
    compose = compose_binary()
    spin = str(Path(sys.executable).with_name("spin"))
    picked = samples(limit)
    if compose is None or not picked:
        return {"error": "no docker-compose binary (bash benchmarks/setup.sh builds it)" if compose is None
                else f"no compose corpus at {CORPUS}"}
    # The environment both get: only what a fresh login has, so neither reads the developer's variables.
    env = {"PATH": f"{Path(spin).parent}:/usr/bin:/bin", "HOME": "/root"}
    tool = "hyperfine" if shutil.which("hyperfine") else "runner"
    rows = []
    for sample in picked:
        commands = {"spin": [spin, "config", "--format", "json"],
                    "docker-compose": [compose, "config", "--format", "json"]}
        try:
            means = (_hyperfine if tool == "hyperfine" else _own_runner)(commands, sample, env, runs)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            rows.append({"sample": sample.name, "error": str(exc)[:160]})
            continue
        rows.append({"sample": sample.name, **means, "ratio": means["spin"] / means["docker-compose"]})
    good = [r for r in rows if "ratio" in r]
    return {"tool": tool, "compose": compose, "rows": rows,
            "spin_ms": statistics.median(r["spin"] for r in good) if good else float("nan"),
            "compose_ms": statistics.median(r["docker-compose"] for r in good) if good else float("nan"),
            "ratio": statistics.median(r["ratio"] for r in good) if good else float("nan")}


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
