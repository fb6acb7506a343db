"""Authentication figures (issue 5): login latency against a real slapd, token verifications per second.

    .venv/bin/python benchmarks/auth.py [--seconds 5] [--clients 16]

Starts a throwaway slapd (tests/ldap/slapd.py, the examples/ldap directory) and a
gateway process with LDAP as its identity source, on loopback. Prints figures only;
nothing here asserts a timing. The load generator shares the machine's cores with
slapd and the gateway, so HTTP figures are floors.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402

from benchmarks.server import wait_healthy  # noqa: E402
from benchmarks.stats import summary_ms  # noqa: E402
from tests.ldap.slapd import BIND_DN, BIND_PASSWORD, Slapd, demo_password, free_port  # noqa: E402

USERS = ["alice", "bob", "carol", "mallory"]


def _config(folder: Path, url: str, cache_ttl: float) -> Path:
    secret = folder / "bind.password"
    secret.write_text(BIND_PASSWORD)
    secret.chmod(0o600)
    path = folder / f"ldap-{cache_ttl}.yaml"
    path.write_text(yaml.safe_dump({
        "urls": [url], "bind_dn": BIND_DN, "bind_password_file": str(secret),
        "user_base": "ou=people,dc=spin,dc=example", "group_base": "ou=groups,dc=spin,dc=example",
        "projects": {"gid_min": 5000, "gid_max": 5099, "attribute": "description", "value": "spin-project"},
        "cache_ttl": cache_ttl}))
    return path


def _timed(fn, n: int) -> dict:
    samples = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    return summary_ms(samples)


def _rate(fn, seconds: float) -> float:
    n, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        for _ in range(100):
            fn()
        n += 100
    return n / seconds


def _whoami_load(url: str, token: str, clients: int, seconds: float) -> dict:
    """Threads with one keep-alive connection each (httpx's async client cost more CPU here than the gateway)."""
    lat: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds

    def one() -> None:
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30) as http:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = http.get("/v1/whoami")
                if r.status_code == 200:
                    lat.append(time.perf_counter() - t)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": len(lat) / (time.perf_counter() - started), **summary_ms(lat), "errors": errors[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--logins", type=int, default=300)
    args = ap.parse_args()

    from spin_gateway.gateway_api.auth.tokens import TokenSigner
    from spin_gateway.gateway_api.identity.ldap import LdapProvider
    from spin_gateway.gateway_api.identity.ldap_config import LdapConfig

    with tempfile.TemporaryDirectory(prefix="spin-auth-bench-") as tmp:
        folder = Path(tmp)
        slapd = Slapd(folder / "slapd")
        slapd.start()
        try:
            print(f"machine: {os.cpu_count()} cores; slapd {slapd.url}; python {sys.version.split()[0]}")
            uncached = LdapProvider(LdapConfig.from_file(_config(folder, slapd.url, 0)))
            cached = LdapProvider(LdapConfig.from_file(_config(folder, slapd.url, 30)))
            uncached.lookup("alice")  # warm the connection pool
            login = _timed(lambda i: uncached.authenticate(USERS[i % 4], demo_password(USERS[i % 4])), args.logins)
            print(f"login (bind as the user + lookup), in-process, n={login['n']}: "
                  f"p50 {login['p50']:.2f} ms, p99 {login['p99']:.2f} ms")
            look = _timed(lambda i: uncached.lookup(USERS[i % 4]), args.logins)
            print(f"lookup without cache (3 searches: user, groups, holders of their names), n={look['n']}: p50 {look['p50']:.2f} ms, p99 {look['p99']:.2f} ms")
            cached.lookup("alice")
            hit = _timed(lambda i: cached.lookup("alice"), 10000)
            print(f"lookup from the cache, n={hit['n']}: p50 {hit['p50'] * 1000:.1f} us, p99 {hit['p99'] * 1000:.1f} us")

            signer = TokenSigner(os.urandom(32).hex().encode())
            token, _ = signer.issue("alice")
            print(f"token verifications in-process (PyJWT HS256): {_rate(lambda: signer.verify(token), args.seconds):,.0f}/s")

            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log = open(folder / "gateway.log", "w")
            proc = subprocess.Popen(
                [sys.executable, "-m", "spin_gateway.cli.main", "gateway", "serve", "--port", str(port), "--identity", "ldap",
                 "--ldap-config", str(_config(folder, slapd.url, 30)), "--backend", "manifests",
                 "--manifests-dir", str(folder / "manifests"), "--policy-dir", str(ROOT / "rego"),
                 "--audit-log", str(folder / "audit.log"), "--state-dir", str(folder / "state")],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_healthy(url, proc, folder / "gateway.log", 60)
                with httpx.Client(base_url=url, timeout=30) as http:
                    http_login = _timed(lambda i: http.post("/v1/login", json={
                        "username": USERS[i % 4], "password": demo_password(USERS[i % 4])}).raise_for_status(),
                        args.logins)
                    token = http.post("/v1/login", json={"username": "alice",
                                                         "password": demo_password("alice")}).json()["token"]
                    seq = _timed(lambda i: http.get("/v1/whoami", headers={"authorization": f"Bearer {token}"})
                                 .raise_for_status(), 1000)
                print(f"login over HTTP (POST /v1/login), n={http_login['n']}: "
                      f"p50 {http_login['p50']:.2f} ms, p99 {http_login['p99']:.2f} ms")
                print(f"GET /v1/whoami, one client: p50 {seq['p50']:.2f} ms, p99 {seq['p99']:.2f} ms "
                      f"(~{1000 / seq['p50']:,.0f}/s)")
                load = _whoami_load(url, token, args.clients, args.seconds)
                print(f"GET /v1/whoami, {args.clients} clients for {args.seconds:g}s: {load['rps']:,.0f} req/s, "
                      f"p50 {load['p50']:.2f} ms, p99 {load['p99']:.2f} ms, errors {load['errors']}")
            finally:
                proc.terminate()
                proc.wait(10)
                log.close()
        finally:
            slapd.remove()


if __name__ == "__main__":
    main()
