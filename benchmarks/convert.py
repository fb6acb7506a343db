"""`spin convert` time per corpus file: figures to read, not assertions.

For each sample of the compose corpus (SPIN_COMPOSE_CORPUS, default ../shared/corpus/compose/awesome-compose):
  load      the compose loader (files -> canonical model), as the CLI runs it
  translate the translator alone (model -> Kubernetes objects)
  convert   the whole `spin convert` in one process (load, read secrets, validate, translate, YAML out)
  process   `spin convert` as a user runs it, a fresh Python process each time (--process-runs of them)
each the median and p99 of repeated runs, in milliseconds. Samples that need an image built or a secret
file are given one, as a user would before `spin up` (the same preparation as the schema test).

    python -m benchmarks.convert [--runs 30] [--process-runs 3]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

from benchmarks.stats import summary_ms


def _prepared(sample):
    from spin_gateway.cli.file_sources import inline_file_sources
    from spin_gateway.compose_loader import load_project, validate_model
    from tests.translate.test_corpus_schema import _as_a_user_would_send_it

    project = load_project([_file(sample)], environ={"HOME": "/root"})
    return project, validate_model(inline_file_sources(_as_a_user_would_send_it(sample, project.model), environ={}))


def _file(sample):
    from tests.compose.test_corpus import _file as find

    return find(sample)


def _largest_project():
    """The biggest model the gateway accepts: 200 services, each with ports, 100 exposed ports, volumes, secrets."""
    from spin_gateway.compose_loader import validate_model

    services = {f"svc{i}": {"image": "registry.example.org/a/b:1",
                            "ports": [{"target": 80, "published": str(10000 + i), "protocol": "tcp"}],
                            "expose": ["9000-9099"],
                            "volumes": [{"type": "volume", "source": f"v{i % 10}", "target": f"/d{j}"} for j in range(20)],
                            "secrets": [{"source": "s", "target": f"/s{j}"} for j in range(5)],
                            "depends_on": {f"svc{i - 1}": {}} if i else {}}
                for i in range(200)}
    return validate_model({"name": "bench", "services": services, "volumes": {f"v{i}": {} for i in range(10)},
                           "secrets": {"s": {"content": "x"}}})


def _time(fn, runs: int) -> dict[str, float]:
    fn()  # warm: imports and caches are not what a user waits for twice
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return summary_ms(samples)


def main(argv: list[str] | None = None) -> None:
    import yaml

    from spin_gateway.compose_loader import load_project
    from spin_gateway.gateway_api import planning
    from spin_gateway.translate import to_kubernetes
    from spin_gateway.vocabulary.errors import SpinError
    from tests.compose.test_corpus import SAMPLES

    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=30)
    args.add_argument("--process-runs", type=int, default=3, help="fresh `spin convert` processes per sample (0: skip)")
    opts = args.parse_args(argv)
    labels = {"app.kubernetes.io/managed-by": "spin", "spin.io/project": "bench", "spin.io/owner": "bench"}
    print(f"{'sample':32} {'services':>8} {'objects':>7}  {'load p50/p99':>14}  {'translate p50/p99':>18}  {'convert p50/p99':>16}  {'process p50':>11}")
    totals = []
    for sample in SAMPLES:
        try:
            project, model = _prepared(sample)
        except SpinError as exc:
            print(f"{sample.name:32} refused by the loader: {exc.message[:60]}")
            continue
        namespace = planning.namespace_for(project.name)

        def translate():
            return to_kubernetes(model, project=project.name, namespace=namespace, labels=labels, allow_unsupported=True)

        def load():
            return load_project([_file(sample)], environ={"HOME": "/root"})

        def convert():
            _, m = _prepared(sample)
            t = to_kubernetes(m, project=project.name, namespace=namespace, labels=labels, allow_unsupported=True)
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                print(yaml.safe_dump_all([planning.namespace_object(namespace, labels), *t.objects], sort_keys=False))

        def process():
            # --allow-unsupported and a build-free sample: what a user would run; samples needing a built image
            # or a secret file are refused early by the real CLI, which is timed too (that is its answer).
            subprocess.run([sys.executable, "-m", "spin_gateway.cli.main", "-f", str(_file(sample)), "-p", "bench", "convert",
                            "--allow-unsupported"], capture_output=True, env={**os.environ, "HOME": "/root"})

        objects = len(translate().objects)
        lo, tr, cv = _time(load, opts.runs), _time(translate, opts.runs), _time(convert, opts.runs)
        pr = _time(process, opts.process_runs)["p50"] if opts.process_runs else float("nan")
        totals.append(cv["p50"])
        print(f"{sample.name:32} {len(model['services']):>8} {objects:>7}  {lo['p50']:>6.2f}/{lo['p99']:<7.2f}"
              f"  {tr['p50']:>8.3f}/{tr['p99']:<9.3f}  {cv['p50']:>7.2f}/{cv['p99']:<8.2f}  {pr:>11.0f}")
    big = _largest_project()
    t = _time(lambda: to_kubernetes(big, project="bench", namespace="bench", labels=labels), max(3, opts.runs // 5))
    print(f"{'200 services (the model bound)':32} {200:>8} {len(to_kubernetes(big, project='bench', namespace='bench', labels=labels).objects):>7}"
          f"  {'':>14}  {t['p50']:>8.1f}/{t['p99']:<9.1f}")
    if totals:
        print(f"{len(totals)} samples; convert p50 per file: median {sorted(totals)[len(totals) // 2]:.2f} ms, "
              f"max {max(totals):.2f} ms (in-process; a fresh `spin convert` process adds the interpreter's start-up)")


if __name__ == "__main__":
    main()
