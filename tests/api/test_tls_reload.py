"""The gateway serves TLS from files and takes a renewed certificate without a restart (admission needs TLS).

A real `spin gateway serve` process; certificates made with openssl as a facility CA would; each check is a
fresh TLS handshake that reads the certificate the server presents.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, SPIN, free_port


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path) -> Path:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=hook-test-ca", cwd=folder)
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    return folder / "ca.crt"


def make_server_cert(folder: Path, cn: str) -> tuple[Path, Path]:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{cn}.key", "-out", f"{cn}.csr", "-subj", f"/CN={cn}",
            cwd=folder)
    openssl("x509", "-req", "-in", f"{cn}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
            "-out", f"{cn}.crt", "-extfile", "server.ext", cwd=folder)
    return folder / f"{cn}.crt", folder / f"{cn}.key"


def served_cn(port: int, ca: Path) -> str:
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        subject = dict(pair[0] for pair in tls.getpeercert()["subject"])
    return subject["commonName"]


def replace(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.new")
    tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)


@pytest.fixture
def pki(tmp_path):
    folder = tmp_path / "pki"
    folder.mkdir()
    return folder


def test_a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not(tmp_path, pki):
    ca = make_ca(pki)
    first, first_key = make_server_cert(pki, "first")
    second, second_key = make_server_cert(pki, "second")
    live_cert, live_key = tmp_path / "tls.crt", tmp_path / "tls.key"
    replace(first, live_cert)
    replace(first_key, live_key)
    port = free_port()
    log = open(tmp_path / "gateway.log", "w")
    proc = subprocess.Popen([*SPIN, "gateway", "serve", "--port", str(port), "--backend", "manifests",
                             "--manifests-dir", str(tmp_path / "m"), "--users", str(ROOT / "examples/users.yaml"),
                             "--policy-dir", str(ROOT / "rego"), "--audit-log", str(tmp_path / "audit.log"),
                             "--state-dir", str(tmp_path / "state"), "--tls-cert", str(live_cert),
                             "--tls-key", str(live_key)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"https://127.0.0.1:{port}/readyz", verify=ssl.create_default_context(cafile=str(ca)),
                             timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "gateway.log").read_text()
            time.sleep(0.2)
        assert served_cn(port, ca) == "first"
        # A key that does not match the certificate (the rotation half done): the old pair keeps serving.
        replace(second_key, live_key)
        time.sleep(1.2)
        assert served_cn(port, ca) == "first"
        # The certificate arrives: the next handshake gets the new pair, without a restart.
        replace(second, live_cert)
        deadline = time.monotonic() + 10
        while served_cn(port, ca) != "second":
            assert time.monotonic() < deadline, "the renewed certificate was never served"
            time.sleep(0.3)
        # Garbage in the certificate file: refused, the last good pair serves on.
        live_cert.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        time.sleep(1.2)
        assert served_cn(port, ca) == "second"
        assert proc.poll() is None
        assert "not reloaded" in (tmp_path / "gateway.log").read_text()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_a_certificate_that_does_not_load_stops_the_start_with_a_clear_error(tmp_path, pki):
    make_ca(pki)
    cert, _ = make_server_cert(pki, "x")
    _, other_key = make_server_cert(pki, "y")
    out = subprocess.run([*SPIN, "gateway", "serve", "--port", str(free_port()), "--backend", "manifests",
                          "--tls-cert", str(cert), "--tls-key", str(other_key), "--state-dir", str(tmp_path / "s")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--tls-cert" in out.stderr and "do not load" in out.stderr
