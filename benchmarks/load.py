"""Concurrent clients (asyncio + httpx) for a bounded time: throughput, p50/p99, errors.

The load generator runs on the same 2 cores as the gateway, so every figure
here is a floor for what the gateway alone could do.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from benchmarks.inputs import compose_model
from benchmarks.stats import summary_ms


async def _client(i: int, http: httpx.AsyncClient, mode: str, token: str, stop: float, lat: list, errors: Counter,
                  act_as: str = ""):
    headers = {"Authorization": f"Bearer {token}", **({"X-Spin-User": act_as} if act_as else {})}
    body = {"compose": compose_model(10)}
    n = 0
    while time.perf_counter() < stop:
        if mode == "healthz":
            req = http.build_request("GET", "/healthz")
        elif n % 2 == 0:
            req = http.build_request("POST", f"/v1/projects/job-{i}/check", json=body, headers=headers)
        else:
            req = http.build_request("PUT", f"/v1/projects/job-{i}", json=body, headers=headers)
        n += 1
        t = time.perf_counter()
        try:
            r = await http.send(req)
            if r.status_code != 200:
                errors[f"HTTP {r.status_code} {r.json().get('error', '') if r.headers.get('content-type', '').startswith('application/json') else ''}".strip()] += 1
                continue
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
            continue
        lat.append(time.perf_counter() - t)


async def _run(url: str, mode: str, token: str, clients: int, seconds: float, act_as: str) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    lat: list[float] = []
    errors: Counter = Counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        started = time.perf_counter()
        stop = started + seconds
        await asyncio.gather(*(_client(i, http, mode, token, stop, lat, errors, act_as) for i in range(clients)))
        elapsed = time.perf_counter() - started
    out = summary_ms(lat)
    out.update(ok=len(lat), errors=sum(errors.values()), error_kinds=dict(errors.most_common(3)),
               per_s=len(lat) / elapsed, seconds=elapsed)
    return out


def run(url: str, mode: str, token: str, clients: int = 200, seconds: float = 10.0, act_as: str = "") -> dict:
    return asyncio.run(_run(url, mode, token, clients, seconds, act_as))
