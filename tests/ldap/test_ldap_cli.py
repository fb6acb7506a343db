"""`spin login` and `spin whoami` as a user runs them, against a live gateway whose identity source is slapd."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx
import pytest

from tests.ldap.slapd import ROOT, demo_password, free_port

SPIN = [sys.executable, "-m", "spin_gateway.cli.main"]


@pytest.fixture
def live_gateway(tmp_path, ldap_config):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "gateway.log", "w")
    proc = subprocess.Popen([*SPIN, "gateway", "serve", "--port", str(port), "--identity", "ldap",
                             "--ldap-config", str(ldap_config()), "--backend", "manifests",
                             "--manifests-dir", str(tmp_path / "manifests"), "--policy-dir", str(ROOT / "rego"),
                             "--audit-log", str(tmp_path / "audit.log"), "--state-dir", str(tmp_path / "state")],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"gateway did not start: {(tmp_path / 'gateway.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def _spin(url, home, *args, stdin=""):
    env = {k: v for k, v in os.environ.items() if k not in ("SPIN_TOKEN", "SPIN_GATEWAY")}
    env.update(XDG_CONFIG_HOME=str(home))
    return subprocess.run([*SPIN, "--gateway", url, *args], input=stdin, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_spin_login_stores_a_private_token_and_whoami_uses_it(live_gateway, tmp_path):
    home = tmp_path / "home-config"
    done = _spin(live_gateway, home, "login", "--user", "alice", "--password-stdin", stdin=demo_password("alice") + "\n")
    assert done.returncode == 0, done.stderr
    config = home / "spin/config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert demo_password("alice") not in config.read_text()
    me = subprocess.run([*SPIN, "whoami"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                        env={**{k: v for k, v in os.environ.items() if k not in ("SPIN_TOKEN", "SPIN_GATEWAY")},
                             "XDG_CONFIG_HOME": str(home)})
    assert me.returncode == 0, me.stderr
    assert me.stdout.strip() == "alice uid=1001 gid=1001 projects=astro"


def test_spin_login_with_a_wrong_password_fails_and_stores_nothing(live_gateway, tmp_path):
    home = tmp_path / "home-config"
    done = _spin(live_gateway, home, "login", "--user", "alice", "--password-stdin", stdin="not-my-password\n")
    assert done.returncode == 2
    assert "wrong user name or password" in done.stderr + done.stdout
    assert "not-my-password" not in done.stderr + done.stdout
    assert not (home / "spin/config.json").exists()


def test_spin_token_create_list_revoke_by_an_ldap_admin(live_gateway, tmp_path):
    carol, alice = tmp_path / "carol", tmp_path / "alice"
    assert _spin(live_gateway, carol, "login", "-u", "carol", "--password-stdin", stdin=demo_password("carol")).returncode == 0
    assert _spin(live_gateway, alice, "login", "-u", "alice", "--password-stdin", stdin=demo_password("alice")).returncode == 0

    refused = _spin(live_gateway, alice, "token", "create", "mine", "--for-user", "alice")
    assert refused.returncode == 1 and "administrators" in refused.stderr + refused.stdout

    created = _spin(live_gateway, carol, "token", "create", "slurm-prologue", "--for-project", "astro",
                    "--operations", "up,down,read", "--ttl-days", "1")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    acting = {"authorization": f"Bearer {token}", "x-spin-user": "bob"}
    assert httpx.get(live_gateway + "/v1/whoami", headers=acting).json()["name"] == "bob"

    listed = _spin(live_gateway, carol, "--json", "token", "list")
    assert listed.returncode == 0 and token not in listed.stdout
    import json

    [record] = json.loads(listed.stdout)
    assert record["name"] == "slurm-prologue" and record["scope"]["projects"] == ["astro"]
    assert record["scope"]["operations"] == ["up", "down", "read"]

    assert _spin(live_gateway, carol, "token", "revoke", record["id"]).returncode == 0
    after = httpx.get(live_gateway + "/v1/whoami", headers=acting)
    assert after.status_code == 401 and "revoked" in after.json()["detail"]


def test_spin_login_refuses_an_empty_password_before_asking_the_gateway(tmp_path):
    # no gateway listens here: the refusal must come first
    done = _spin(f"http://127.0.0.1:{free_port()}", tmp_path / "cfg", "login", "-u", "alice", "--password-stdin", stdin="\n")
    assert done.returncode == 2 and "empty password" in done.stderr + done.stdout
    assert not (tmp_path / "cfg/spin/config.json").exists()
