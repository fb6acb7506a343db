"""`spin policy test` on the library: wall time of the whole command, as a user runs it. Figures, not assertions.

    python -m benchmarks.policy_test [--runs 3] [--policy-dir rego]

Each run is a fresh `spin policy test -q` process (imports, engine build, every test in one evaluation, every
sample decided), then the same without samples (--no-samples), then the tests alone one query each (what the
command did before issue 19), once. The load average is printed with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _wall(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "spin_gateway.cli.main", *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"spin {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def _one_query_each(policy_dir: str) -> tuple[float, int]:
    from spin_gateway.policy.bundle import load_bundle
    from spin_gateway.policy.embedded import EmbeddedEngine
    from spin_gateway.policy.testing import discover

    started = time.perf_counter()
    bundle = load_bundle(policy_dir)
    engine = EmbeddedEngine(bundle, with_tests=True, pool_size=1)
    try:
        tests = discover(bundle)
        for _file, package, name in tests:
            engine.document(f"{package}.{name}")
    finally:
        engine.close()
    return time.perf_counter() - started, len(tests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--policy-dir", default="rego")
    a = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    whole = [_wall(["policy", "test", a.policy_dir, "-q"]) for _ in range(a.runs)]
    tests = [_wall(["policy", "test", a.policy_dir, "-q", "--no-samples"]) for _ in range(a.runs)]
    old, count = _one_query_each(a.policy_dir)
    print(f"spin policy test (tests + samples), process wall: median {statistics.median(whole):.2f} s, "
          f"runs {', '.join(f'{w:.2f}' for w in whole)}")
    print(f"spin policy test --no-samples, process wall:      median {statistics.median(tests):.2f} s, "
          f"runs {', '.join(f'{w:.2f}' for w in tests)}")
    print(f"the {count} tests one query each (before issue 19), in-process: {old:.2f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
