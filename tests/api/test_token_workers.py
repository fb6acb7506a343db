"""Service tokens with several gateway workers (issue #20): no created token lost, no revoked one accepted.

`spin gateway serve --workers 4` runs four processes that share the token
registry file. Before the fix each kept its own copy under a thread lock and
rewrote the file: 40 concurrent creations left some tokens (answered 201)
missing, and revoked tokens (answered 200) still worked on other workers.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import time

import httpx
import pytest

from tests.e2e.conftest import ROOT, SPIN, free_port

TOKENS = 40
# Requests per token after the revocations: uvicorn hands connections to whichever worker accepts first,
# so many fresh connections per token reach every worker with near certainty.
PROBES = 12


@pytest.fixture
def workers(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "state"
    log = open(tmp_path / "gateway.log", "w")
    proc = subprocess.Popen(
        [*SPIN, "gateway", "serve", "--port", str(port), "--backend", "manifests", "--workers", "4",
         "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
         "--audit-log", str(state / "audit.log"), "--state-dir", str(state), "--manifests-dir", str(tmp_path / "m")],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gateway did not start: {(tmp_path / 'gateway.log').read_text()[-2000:]}")
        admin = subprocess.run([*SPIN, "gateway", "token", "--user", "carol", "--state-dir", str(state)],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        yield url, {"authorization": f"Bearer {admin}"}, state
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _fresh(method: str, url: str, **kw) -> httpx.Response:
    # A new connection each time, so the kernel may hand it to any worker.
    with httpx.Client(timeout=60) as client:
        return client.request(method, url, **kw)


def test_forty_concurrent_creations_and_revocations_all_hold_on_every_worker(workers):
    url, admin, state = workers
    with concurrent.futures.ThreadPoolExecutor(max_workers=TOKENS) as pool:
        created = list(pool.map(lambda i: _fresh("POST", url + "/v1/tokens", headers=admin,
                                                 json={"name": f"prologue-{i}", "users": ["alice"]}), range(TOKENS)))
    assert [r.status_code for r in created] == [201] * TOKENS, [r.text for r in created if r.status_code != 201][:3]
    tokens = {r.json()["record"]["id"]: r.json()["token"] for r in created}
    assert len(tokens) == TOKENS

    listed = _fresh("GET", url + "/v1/tokens", headers=admin).json()
    assert {t["id"] for t in listed} == set(tokens), "a created token is missing from the registry"

    # Every token works, on whichever worker answers.
    def works(token: str) -> list[int]:
        return [_fresh("GET", url + "/v1/whoami", headers={"authorization": f"Bearer {token}",
                                                            "x-spin-user": "alice"}).status_code
                for _ in range(PROBES // 3)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        assert all(codes == [200] * (PROBES // 3) for codes in pool.map(works, tokens.values()))

    # Revoke half of them at once; the other half must keep working.
    revoked = sorted(tokens)[: TOKENS // 2]
    with concurrent.futures.ThreadPoolExecutor(max_workers=TOKENS) as pool:
        answers = list(pool.map(lambda t: _fresh("DELETE", f"{url}/v1/tokens/{t}", headers=admin), revoked))
    assert [r.status_code for r in answers] == [200] * len(revoked), [r.text for r in answers if r.status_code != 200][:3]

    listed = {t["id"]: t for t in _fresh("GET", url + "/v1/tokens", headers=admin).json()}
    assert set(listed) == set(tokens)
    assert {i for i, t in listed.items() if t["revoked_at"] is not None} == set(revoked)

    def codes(token: str) -> set[int]:
        return {_fresh("GET", url + "/v1/whoami", headers={"authorization": f"Bearer {token}",
                                                           "x-spin-user": "alice"}).status_code
                for _ in range(PROBES)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        outcome = dict(zip(tokens, pool.map(codes, tokens.values()), strict=True))
    assert {i: c for i, c in outcome.items() if i in revoked and c != {401}} == {}, "a revoked token was accepted"
    assert {i: c for i, c in outcome.items() if i not in revoked and c != {200}} == {}, "a live token was refused"

    # Each revocation answered 200 is on the record once.
    audited = (state / "audit.log").read_text().count('"operation":"revoke"')
    assert audited == len(revoked)
