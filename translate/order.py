"""depends_on as an explicit start order.

Kubernetes starts every workload at once; there is no depends_on. The choice:
workloads are emitted (and so applied, and on podman played) dependencies
first, in a stable topological order (ties by service name), and each
workload carries its conditions in the annotation spin.io/depends-on, where a
backend that can wait (podman plays pods one by one) or a person reading
`spin convert` sees them. A cycle is an error, as Docker Compose refuses it.
"""

from __future__ import annotations

import heapq
from typing import Any

from spin_gateway.vocabulary.errors import TranslateError


def start_order(services: dict[str, dict[str, Any]]) -> list[str]:
    deps = {name: sorted(d for d in (svc.get("depends_on") or {}) if d in services)
            for name, svc in services.items()}
    waiting = {name: len(d) for name, d in deps.items()}
    users: dict[str, list[str]] = {name: [] for name in services}
    for name, d in deps.items():
        for dep in d:
            users[dep].append(name)
    ready = [name for name, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for user in users[name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) != len(services):
        stuck = sorted(set(services) - set(order))
        raise TranslateError(f"services.{stuck[0]}.depends_on: the services {', '.join(stuck)} depend on each other in a cycle",
                             hint="Remove one depends_on entry so the services can start one after another.")
    return order
