"""Certificates, kubeconfigs and ports for the local cluster (tests/cluster/node.py runs it).

The binaries come from scripts/install-kube.sh ($SPIN_KUBE_CACHE/bin): Kubernetes
1.34 built from its Go module, etcd, CoreDNS, and the pause image archive.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

DEFAULT_BIN = Path(os.environ.get("SPIN_KUBE_CACHE", "/var/cache/spin-kube")) / "bin"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
            "kubectl", "pause.tar", "coredns.tar")
HOST_TOOLS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "conntrack", "podman")


def find_binaries() -> dict[str, str] | str:
    """Paths of the cluster's binaries, or a sentence saying what is missing and how to get it."""
    import shutil

    folder = Path(os.environ.get("SPIN_KUBE_BIN", DEFAULT_BIN))
    found = {name: str(folder / name) for name in BINARIES if (folder / name).exists()}
    for tool in HOST_TOOLS:
        path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if path:
            found[tool] = path
    missing = [name for name in (*BINARIES, *HOST_TOOLS) if name not in found]
    if missing:
        return (f"cluster binaries missing: {', '.join(missing)} (looked in {folder} and PATH); "
                "run `bash scripts/install-kube.sh`, or set SPIN_TEST_KUBECONFIG to use another cluster")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def node_ip() -> str:
    """The address of the default-route interface: kubelet refuses loopback as its node IP."""
    out = subprocess.run(["ip", "-4", "route", "get", "1.1.1.1"], capture_output=True, text=True, check=True).stdout
    words = out.split()
    return words[words.index("src") + 1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(pki: Path, ip: str, node_name: str) -> None:
    """A CA, serving certificates (apiserver, kubelet), client certificates and the service-account keys."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=spin-test-ca", cwd=pki)
    clients = {
        "admin": "/O=system:masters/CN=spin-test-admin",
        "controller-manager": "/CN=system:kube-controller-manager",
        "scheduler": "/CN=system:kube-scheduler",
        "kube-proxy": "/CN=system:kube-proxy",
        # NodeRestriction: the kubelet is system:node:<name> in system:nodes.
        "node": f"/O=system:nodes/CN=system:node:{node_name}",
        # The apiserver's identity towards the kubelet (logs, exec): allowed by the kubelet's webhook authz.
        "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
    }
    (pki / "server.ext").write_text(
        f"subjectAltName=IP:{ip},IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n")
    (pki / "kubelet.ext").write_text(f"subjectAltName=IP:{ip},DNS:{node_name}\nextendedKeyUsage=serverAuth\n")
    (pki / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    serving = {"server": ("/CN=kube-apiserver", "server.ext"), "kubelet": (f"/CN={node_name}", "kubelet.ext")}
    for name, (subject, ext) in {**serving, **{k: (v, "client.ext") for k, v in clients.items()}}.items():
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=pki)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.crt", "-extfile", ext, cwd=pki)
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
