"""A real, throwaway slapd: examples/ldap's config and directory in a temp folder, on a loopback port.

Used by tests/ldap/conftest.py and benchmarks/auth.py. No mock: the gateway
talks LDAP to the Debian slapd binary.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/ldap"
SLAPD = "/usr/sbin/slapd"
BIND_DN = "cn=spin-gateway,ou=services,dc=spin,dc=example"
BIND_PASSWORD = "spin-gateway-demo-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_password(user: str) -> str:
    return f"{user}-demo-pw"


class Slapd:
    def __init__(self, folder: Path, port: int | None = None, *, tls: bool = False):
        self.folder = folder
        self.port = port or free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls = tls
        self.ldaps_port = free_port() if tls else None
        self.ldaps_url = f"ldaps://127.0.0.1:{self.ldaps_port}" if tls else None
        self.ca_file = folder / "ca.pem"
        self.conf = folder / "slapd.conf"
        # The directory manager, for tests that change entries while the gateway runs.
        self.root_dn = "cn=admin,dc=spin,dc=example"
        self.root_password = secrets.token_hex(12)
        self.proc: subprocess.Popen | None = None
        missing = [t for t in (SLAPD, "/usr/sbin/slapadd", "/usr/sbin/slaptest") if not os.path.exists(t)]
        if missing:
            raise RuntimeError(f"slapd is not installed ({', '.join(missing)} missing): run scripts/install-ldap.sh")
        (folder / "db").mkdir(parents=True, exist_ok=True)
        salt = os.urandom(8)
        rootpw = "{SSHA}" + base64.b64encode(hashlib.sha1(self.root_password.encode() + salt).digest() + salt).decode()
        conf = (EXAMPLES / "slapd.conf.in").read_text().replace("@DIR@", str(folder)) + f"rootpw          {rootpw}\n"
        if tls:
            # A CA of its own and a certificate for 127.0.0.1; every operation must then use TLS.
            self._certificates()
            conf = conf.replace("database        mdb", (
                f"TLSCACertificateFile {folder}/ca.pem\nTLSCertificateFile {folder}/server.pem\n"
                f"TLSCertificateKeyFile {folder}/server.key\nsecurity tls=1\n\ndatabase        mdb"), 1)
        self.conf.write_text(conf)
        self._run(["/usr/sbin/slaptest", "-u", "-f", str(self.conf)])
        self._run(["/usr/sbin/slapadd", "-f", str(self.conf), "-l", str(EXAMPLES / "directory.ldif")])

    def _certificates(self) -> None:
        f = self.folder
        self._run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=spin test CA",
                   "-keyout", str(f / "ca.key"), "-out", str(f / "ca.pem")])
        self._run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                   "-keyout", str(f / "server.key"), "-out", str(f / "server.csr")])
        (f / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self._run(["openssl", "x509", "-req", "-in", str(f / "server.csr"), "-CA", str(f / "ca.pem"),
                   "-CAkey", str(f / "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", str(f / "san.ext"),
                   "-out", str(f / "server.pem")])

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()[-2000:]}")

    def start(self, timeout: float = 15) -> None:
        # -d 0: stay in the foreground, so this process owns it and can stop it.
        self.log = open(self.folder / "slapd.log", "ab")
        listen = f"{self.url}/" + (f" {self.ldaps_url}/" if self.tls else "")
        self.proc = subprocess.Popen([SLAPD, "-f", str(self.conf), "-h", listen, "-d", "0"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.folder / 'slapd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"slapd did not listen on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.resume()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()

    def pause(self) -> None:
        """Freeze slapd: connections are accepted by the kernel but never answered (a hung server)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def modify(self, dn: str, changes: dict) -> None:
        """An online change as the directory manager, e.g. {"memberUid": [(MODIFY_DELETE, ["bob"])]}."""
        from ldap3 import Connection

        with Connection(self.ldaps_url if self.tls else self.url, self.root_dn, self.root_password,
                        auto_bind=True) as conn:
            if not conn.modify(dn, changes):
                raise RuntimeError(f"modify {dn} failed: {conn.result}")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    """The demo's directory: `python -m tests.ldap.slapd [--port 3890]`, until Ctrl-C."""
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--port", type=int, default=3890)
    args = ap.parse_args()
    server = Slapd(Path(tempfile.mkdtemp(prefix="spin-slapd-")), args.port)
    server.start()
    # SIGTERM too ends in the finally below, so no slapd outlives the demo.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"slapd on {server.url} with examples/ldap/directory.ldif; for the gateway:\n"
          f"  SPIN_LDAP_BIND_PASSWORD={BIND_PASSWORD} spin gateway serve --identity ldap "
          f"--ldap-config examples/ldap/gateway-ldap.yaml\n"
          f"  spin login -u alice   # password: {demo_password('alice')}", flush=True)
    try:
        server.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.remove()


if __name__ == "__main__":
    main()
