"""How long a token revocation takes to reach other replicas' memory, and what one change costs (issue 16).

Three KubeTokenStores (what three gateway replicas hold) on one registry Secret of a real API server; one
creates and revokes, the other two are polled in memory until they refuse. Figures only, nothing asserted.

    .venv/bin/python benchmarks/token_revocation.py --kubeconfig FILE [--namespace default] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from spin_gateway.backends.kube_api import KubeApi, client_from
from spin_gateway.gateway_api.auth.kube_tokens import KubeTokenStore
from spin_gateway.gateway_api.auth.service_tokens import TokenRecord, TokenScope


def _refused(store: KubeTokenStore, token_id: str) -> bool:
    try:
        store.check_active(token_id)
    except Exception:
        return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    name = f"spin-tokens-bench-{uuid.uuid4().hex[:6]}"
    writer, *others = [KubeTokenStore(KubeApi(client_from(args.kubeconfig, None)), args.namespace, name)
                       for _ in range(3)]
    writes, reached = [], []
    try:
        for _ in range(args.rounds):
            now, token_id = int(time.time()), uuid.uuid4().hex
            writer.add(TokenRecord(id=token_id, name="bench", created_by="bench", created_at=now,
                                   expires_at=now + 600, scope=TokenScope(users=["alice"])))
            while any(_refused(s, token_id) for s in others):
                time.sleep(0.0005)
            began = time.monotonic()
            writer.revoke(token_id)
            stored = time.monotonic()
            while not all(_refused(s, token_id) for s in others):
                time.sleep(0.0005)
            writes.append(stored - began)
            reached.append(time.monotonic() - stored)
    finally:
        KubeApi(client_from(args.kubeconfig, None)).request(
            "DELETE", f"/api/v1/namespaces/{args.namespace}/secrets/{name}", what="clean up", retry=False)

    def ms(values: list[float]) -> str:
        ordered = sorted(values)
        return (f"median {statistics.median(ordered) * 1000:.0f} ms, p90 {ordered[int(len(ordered) * 0.9) - 1] * 1000:.0f}"
                f" ms, max {ordered[-1] * 1000:.0f} ms")

    print(f"revoke (read, compare-and-swap write) on one replica: {ms(writes)}")
    print(f"from its answer until both other replicas refuse (watch): {ms(reached)}")


if __name__ == "__main__":
    main()
