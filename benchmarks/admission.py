"""The admission webhook's latency as the API server sees it, beside a direct `spin policy eval` (issue 15).

    SPIN_TEST_KUBECONFIG=$(cat /work/logs/kubeconfig.path) .venv/bin/python benchmarks/admission.py [--n 200]

Against a running cluster (the test suite's node, or any whose CA key sits in ../pki beside the kubeconfig):
the gateway serves TLS on loopback with the webhook registered for this run's namespace only (the setup of
tests/cluster/test_admission_webhook.py), then alice, with kubectl's credentials, makes N server-side dry-run
creates of a Pod that mounts the global file system (mutated and validated), and N into a namespace the
webhook does not match. Figures:

- the API server's own histogram, `apiserver_admission_webhook_admission_duration_seconds` from /metrics
  (the delta over the run, per webhook; p50/p99 interpolated within its buckets, as histogram_quantile does,
  and the exact mean from _sum/_count);
- the client's round trip with and without the webhook (exact percentiles);
- `spin policy eval` of the same Pod, in-process (the decision alone) and as a command (process start included).

Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stats import summary_ms  # noqa: E402

METRIC = "apiserver_admission_webhook_admission_duration_seconds"


def histogram(text: str, webhook: str) -> dict[str, dict[float, float]]:
    """{type: {le: cumulative count}} plus sum/count, for one webhook name, summed over operation/rejected."""
    out: dict[str, dict[float, float]] = {}
    pattern = re.compile(rf'^{METRIC}_(bucket|sum|count)\{{(.*)\}} ([0-9.e+-]+)$')
    for line in text.splitlines():
        m = pattern.match(line)
        if not m or f'name="{webhook}"' not in m.group(2):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        series = out.setdefault(labels.get("type", ""), {})
        key = float("inf") if m.group(1) == "bucket" and labels.get("le") == "+Inf" else (
            float(labels["le"]) if m.group(1) == "bucket" else (-1.0 if m.group(1) == "sum" else -2.0))
        series[key] = series.get(key, 0.0) + float(m.group(3))
    return out


def quantile(buckets: dict[float, float], q: float) -> float:
    """histogram_quantile: linear within the bucket the rank falls in (seconds)."""
    edges = sorted(k for k in buckets if k >= 0)
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for le in edges:
        count = buckets[le]
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * ((rank - below) / max(count - below, 1e-9))
        lower, below = le, count
    return lower


def delta(after: dict, before: dict) -> dict:
    return {t: {k: v - before.get(t, {}).get(k, 0.0) for k, v in series.items()} for t, series in after.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--eval-only", action="store_true", help="Only the `spin policy eval` figures (no cluster)")
    args = parser.parse_args()
    if args.eval_only:
        import yaml

        from tests.cluster import test_admission_webhook as t

        pod = yaml.safe_load(t.pod_yaml("bench", t.ALICE_NS, global_mount=True))
        for key, value in _policy_eval(pod, args.n, Path(tempfile.mkdtemp(prefix="spin-bench-hook-"))).items():
            print(f"{key}: {value}")
        return
    kubeconfig = os.environ.get("SPIN_TEST_KUBECONFIG")
    if not kubeconfig:
        sys.exit("set SPIN_TEST_KUBECONFIG to the cluster's admin kubeconfig")
    import yaml
    from kubernetes import config

    from spin_gateway.backends.kube_api import KubeApi
    from tests.cluster import test_admission_webhook as t
    from tests.cluster.conftest import Cluster, apply_manifests

    data = yaml.safe_load(Path(kubeconfig).read_text())
    server = data["clusters"][0]["cluster"]["server"]
    kube = Cluster(Path(kubeconfig), server)
    tmp = Path(tempfile.mkdtemp(prefix="spin-bench-hook-"))
    hook = t.Webhook(kube, tmp)
    admin = kube.admin()
    plain_ns = f"hook-plain-{t.RUN}"
    pod = yaml.safe_load(t.pod_yaml("bench", t.ALICE_NS, global_mount=True))
    results: dict = {}
    try:
        hook.register()
        assert hook.up(t.ALICE_NS, "alice").status_code == 200
        admin.request("POST", "/api/v1/namespaces", what="ns", body={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": plain_ns}})
        for ns in (t.ALICE_NS, plain_ns):
            apply_manifests(kube, [{
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "bench", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                              "name": f"hook-users-{t.RUN}"}]}])
        alice = KubeApi(config.new_client_from_config(config_file=str(hook.users["alice"])))

        def dry_runs(ns: str) -> list[float]:
            samples = []
            body = json.loads(json.dumps(pod))
            body["metadata"]["namespace"] = ns
            for _ in range(args.n):
                began = time.perf_counter()
                alice.request("POST", f"/api/v1/namespaces/{ns}/pods", what="dry run", body=body,
                              query={"dryRun": "All"}, retry=False)
                samples.append(time.perf_counter() - began)
            return samples

        dry_runs(t.ALICE_NS)[:0]  # warm: connections, the namespace cache, the engine
        names = [c["webhooks"][0]["name"] for c in hook.configs[:2]]
        metrics_before = _metrics(admin)
        with_hook = dry_runs(t.ALICE_NS)
        metrics_after = _metrics(admin)
        without = dry_runs(plain_ns)
        results["client round trip, webhook on (ms)"] = summary_ms(with_hook)
        results["client round trip, no webhook (ms)"] = summary_ms(without)
        for name in names:
            d = delta(histogram(metrics_after, name), histogram(metrics_before, name))
            for kind, buckets in d.items():
                count = buckets.get(-2.0, 0.0)
                results[f"API server: {name} ({kind})"] = {
                    "n": int(count), "p50_ms": round(quantile(buckets, 0.5) * 1000, 2),
                    "p99_ms": round(quantile(buckets, 0.99) * 1000, 2),
                    "mean_ms": round(buckets.get(-1.0, 0.0) / count * 1000, 2) if count else None}
    finally:
        hook.unregister()
        hook.stop()
        for ns in (t.ALICE_NS, t.MALLORY_NS, t.DOWN_NS, plain_ns):
            try:
                admin.request("DELETE", f"/api/v1/namespaces/{ns}", what="clean up", retry=False)
            except Exception:
                pass
    results.update(_policy_eval(pod, args.n, tmp))
    for key, value in results.items():
        print(f"{key}: {value}")


def _metrics(admin) -> str:
    """The API server's /metrics text (the admin may read it: system:masters)."""
    return admin.request("GET", "/metrics", what="metrics", stream=True).read().decode()


def _policy_eval(pod: dict, n: int, tmp: Path) -> dict:
    import yaml

    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.evaluate import evaluate_objects

    path = tmp / "pod.yaml"
    path.write_text(yaml.safe_dump(pod))
    alice = UsersFileProvider(ROOT / "examples/users.yaml").lookup("alice")
    evaluate_objects(path, alice, ROOT / "rego", None)
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        evaluate_objects(path, alice, ROOT / "rego", None)
        samples.append(time.perf_counter() - began)
    # The decision alone, engine loaded once: what the webhook's own work is (mutate then validate = 2 of these).
    from spin_gateway.policy.decide import decide_call
    from spin_gateway.policy.service import PolicyService
    from spin_gateway.vocabulary.types import Call, Plan

    service = PolicyService(ROOT / "rego")
    call = Call(id="bench", operation="CREATE", object=pod)
    plan = Plan(project="bench", namespace=pod["metadata"]["namespace"], owner="alice", facility_project="astro",
                calls=[])
    decide_call(call, alice, plan, service, dry_run=True)
    decisions = []
    for _ in range(n):
        began = time.perf_counter()
        decide_call(call, alice, plan, service, dry_run=True)
        decisions.append(time.perf_counter() - began)
    service.close()
    cli = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "spin_gateway.cli.main", "policy", "eval", "-o", str(path), "--as",
                        "alice", "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego")],
                       capture_output=True, cwd=ROOT)
        cli.append(time.perf_counter() - began)
    return {"one decision (mutate+validate rounds), engine loaded (ms)": summary_ms(decisions),
            "spin policy eval, in-process incl. loading rego/ (ms)": summary_ms(samples),
            "spin policy eval, the command (ms)": summary_ms(cli)}


if __name__ == "__main__":
    main()
