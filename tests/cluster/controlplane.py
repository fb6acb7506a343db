"""A real Kubernetes control plane on loopback, the way controller-runtime's envtest runs one.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built from
Debian's kubernetes source by scripts/install-kube.sh), with certificates made
here by openssl, RBAC on, a service-account signing key and an admin
kubeconfig. No kubelet: pods stay Pending with the scheduler's reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

DEFAULT_BIN = Path(os.environ.get("SPIN_KUBE_CACHE", "/var/cache/spin-kube")) / "bin"
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
SERVICE_CIDR = "10.96.0.0/24"


def find_binaries() -> dict[str, str] | str:
    """Paths of the control plane binaries, or a sentence saying what is missing and how to get it."""
    folder = Path(os.environ.get("SPIN_KUBE_BIN", DEFAULT_BIN))
    found = {name: str(folder / name) for name in BINARIES if os.access(folder / name, os.X_OK)}
    etcd = shutil.which("etcd")
    missing = [name for name in BINARIES if name not in found] + ([] if etcd else ["etcd"])
    if missing:
        return (f"control plane binaries missing: {', '.join(missing)} (looked in {folder} and PATH); "
                "run `bash scripts/install-kube.sh`, or set SPIN_TEST_KUBECONFIG to use another cluster")
    found["etcd"] = etcd
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(pki: Path) -> None:
    """A CA, the apiserver's serving certificate, client certificates and the service-account key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=spin-test-ca", cwd=pki)
    clients = {
        "admin": "/O=system:masters/CN=spin-test-admin",
        "controller-manager": "/CN=system:kube-controller-manager",
        "scheduler": "/CN=system:kube-scheduler",
    }
    (pki / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n")
    (pki / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject in {"server": "/CN=kube-apiserver", **clients}.items():
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=pki)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.crt",
                 "-extfile", "server.ext" if name == "server" else "client.ext", cwd=pki)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig(server: str, ca: Path, *, cert: Path | None = None, key: Path | None = None,
               token: str | None = None, user: str = "admin") -> dict:
    creds: dict = {"token": token} if token else {"client-certificate": str(cert), "client-key": str(key)}
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "spin-test",
        "clusters": [{"name": "spin-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": "spin-test", "context": {"cluster": "spin-test", "user": user}}],
    }


class ControlPlane:
    def __init__(self, root: Path, binaries: dict[str, str]):
        self.root = root
        self.bin = binaries
        self.pki = root / "pki"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self.admin_kubeconfig = root / "admin.kubeconfig"
        self.start_seconds: float | None = None

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "w")
        proc = subprocess.Popen([self.bin[name], *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))

    def _kubeconfig_file(self, name: str) -> Path:
        path = self.root / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig(self.server, self.pki / "ca.crt", cert=self.pki / f"{name}.crt",
                                                  key=self.pki / f"{name}.key", user=name)))
        return path

    def start(self, timeout: float = 120) -> ControlPlane:
        began = time.monotonic()
        make_certificates(self.pki)
        etcd_port, peer_port = free_port(), free_port()
        self._spawn("etcd", "--data-dir", str(self.root / "etcd"), "--name", "spin-test",
                    "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                    "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                    "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                    "--initial-cluster", f"spin-test=http://127.0.0.1:{peer_port}",
                    "--unsafe-no-fsync", "--log-level", "warn")
        pki = self.pki
        self._spawn("kube-apiserver",
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                    f"--secure-port={self.port}", "--insecure-port=0",
                    f"--cert-dir={self.root / 'apiserver-certs'}",
                    f"--tls-cert-file={pki / 'server.crt'}", f"--tls-private-key-file={pki / 'server.key'}",
                    f"--client-ca-file={pki / 'ca.crt'}",
                    "--authorization-mode=Node,RBAC",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    f"--service-account-key-file={pki / 'sa.pub'}",
                    f"--service-account-signing-key-file={pki / 'sa.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    "--api-audiences=https://kubernetes.default.svc",
                    "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,LimitRanger,ResourceQuota",
                    "--allow-privileged=true", "--profiling=false", "--v=0")
        self.admin_kubeconfig.write_text(yaml.safe_dump(kubeconfig(
            self.server, pki / "ca.crt", cert=pki / "admin.crt", key=pki / "admin.key")))
        self._wait_ready(timeout - (time.monotonic() - began))
        self._spawn("kube-controller-manager",
                    f"--kubeconfig={self._kubeconfig_file('controller-manager')}",
                    "--leader-elect=false", "--port=0", "--secure-port=0", "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*", "--v=0")
        self._spawn("kube-scheduler", f"--kubeconfig={self._kubeconfig_file('scheduler')}",
                    "--leader-elect=false", "--port=0", "--secure-port=0", "--v=0")
        self._wait_default_service_account(timeout - (time.monotonic() - began))
        self.start_seconds = round(time.monotonic() - began, 2)
        return self

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")
        return ctx

    def _get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.server + path, context=self._ssl(), timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.root / f"{name}.log").read_text()[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if self._get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"kube-apiserver not ready after {timeout:.0f}s; logs in {self.root}")

    def _wait_default_service_account(self, timeout: float) -> None:
        """The controller-manager is working once it has made the default namespace's service account."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200:
                return
            time.sleep(0.3)
        raise RuntimeError(f"kube-controller-manager made no service account after {timeout:.0f}s; logs in {self.root}")

    def stop(self) -> None:
        # Reverse order: the controllers go before the apiserver they talk to, etcd last.
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.procs.clear()
