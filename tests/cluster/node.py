"""A one-node Kubernetes that runs pods, on this machine, for the cluster suite.

etcd, kube-apiserver (bound to the node address, so pods reach it through the
`kubernetes` Service), kube-controller-manager, kube-scheduler, containerd with
its own root/state/socket/CNI folder (podman's untouched), kubelet (cgroupfs),
kube-proxy (iptables) and CoreDNS as a pod behind the kube-dns Service.
docs/kubernetes.md gives the same steps as commands.

The kubelet and kube-proxy change host state while they run (sysctls, KUBE-*
iptables chains, cgroups, mounts, a bridge); `stop()` puts back what `start()`
found. One node per host: a lock file keeps a second run waiting.

By hand: `python -m tests.cluster.node up ROOT` prints the admin kubeconfig and
keeps running until interrupted; `python -m tests.cluster.node down ROOT`
cleans up after a run that was killed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from tests.cluster.controlplane import find_binaries, free_port, kubeconfig, make_certificates, node_ip

NODE_NAME = "spin-node"
SERVICE_CIDR = "10.96.0.0/24"
DNS_IP = "10.96.0.10"
# Apart from podman's 10.88.0.0/16 and its 10.89.x.0/24 networks.
POD_CIDR = "10.244.0.0/24"
BRIDGE = "spinkube0"
CNI_NETWORK = "spin-kube"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
#: Packed from the CoreDNS binary by scripts/install-kube.sh (coredns.tar).
COREDNS_IMAGE = "localhost/spin-kube/coredns:cluster"
LOCK = Path("/run/spin-kube-node.lock")
#: Set by kubelet (setupKernelTunables) and kube-proxy while they run.
SYSCTLS = ("vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
           "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.conf.all.route_localnet",
           "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.ipv4.ip_forward",
           "net.netfilter.nf_conntrack_max")
#: Folders the kubelet or containerd make at fixed places whatever they are configured with.
HOST_PATHS = ("/var/log/containers", "/var/log/pods", "/usr/libexec/kubernetes", "/var/lib/kubelet",
              "/run/containerd", "/etc/kubernetes", "/opt/containerd")
TABLES = ("filter", "nat", "mangle")


def _run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=timeout)


class HostState:
    """What the node changes on the host, read before it starts, put back after it stops."""

    def __init__(self) -> None:
        self.sysctls: dict[str, str] = {}
        self.paths: set[str] = set()
        self.rules: dict[tuple[str, str], set[str]] = {}
        self.cgroups: set[str] = set()

    @staticmethod
    def _iptables(tool: str, table: str) -> list[str]:
        out = _run(tool, "-w", "5", "-t", table, "-S", check=False)
        return out.stdout.splitlines() if out.returncode == 0 else []

    def snapshot(self) -> HostState:
        for key in SYSCTLS:
            out = _run("sysctl", "-n", key, check=False)
            if out.returncode == 0:
                self.sysctls[key] = out.stdout.strip()
        self.paths = {p for p in HOST_PATHS if os.path.lexists(p)}
        for tool in ("iptables", "ip6tables"):
            for table in TABLES:
                self.rules[(tool, table)] = set(self._iptables(tool, table))
        self.cgroups = {str(p) for p in Path("/sys/fs/cgroup").glob("*/kubepods")}
        return self

    def restore(self) -> list[str]:
        """Put the host back; returns what could not be (the caller reports it)."""
        problems: list[str] = []
        for tool in ("iptables", "ip6tables"):
            for table in TABLES:
                problems += self._restore_rules(tool, table)
        for key, value in self.sysctls.items():
            out = _run("sysctl", "-q", "-w", f"{key}={value}", check=False)
            if out.returncode:
                problems.append(f"sysctl {key}={value}: {out.stderr.strip()}")
        for group in Path("/sys/fs/cgroup").glob("*/kubepods"):
            if str(group) not in self.cgroups:
                # Children first: a cgroup folder can only go once it has none.
                for sub in sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    try:
                        sub.rmdir()
                    except OSError as exc:
                        problems.append(f"cgroup {sub}: {exc}")
                try:
                    group.rmdir()
                except OSError as exc:
                    problems.append(f"cgroup {group}: {exc}")
        for path in HOST_PATHS:
            if path not in self.paths and os.path.lexists(path):
                shutil.rmtree(path, ignore_errors=True)
        return problems

    def _restore_rules(self, tool: str, table: str) -> list[str]:
        """Remove the rules and chains the node added: KUBE-* (kubelet, kube-proxy) and our CNI network's."""
        before = self.rules.get((tool, table), set())
        now = self._iptables(tool, table)

        def ours(line: str) -> bool:
            return "KUBE-" in line or f'"{CNI_NETWORK}"' in line or BRIDGE in line

        new_chains = {line.split()[1] for line in now if line.startswith("-N ") and line not in before}
        # CNI chains are named by hash: ours are those whose rules carry our network's name.
        ours_chains = {c for c in new_chains if c.startswith("KUBE-")}
        ours_chains |= {line.split()[1] for line in now if line.startswith("-A ") and line.split()[1] in new_chains
                        and ours(line)}
        problems = []
        for line in now:
            if line.startswith("-A ") and line not in before and (ours(line) or
                                                                  any(f"-j {c}" in line for c in ours_chains)):
                chain = line.split()[1]
                if chain in ours_chains:
                    continue  # flushed with its chain below
                args = line.split()[2:]
                out = _run(tool, "-w", "5", "-t", table, "-D", chain, *_unquote(args), check=False)
                if out.returncode:
                    problems.append(f"{tool} -t {table} -D {line[3:]}: {out.stderr.strip()}")
        for chain in ours_chains:
            _run(tool, "-w", "5", "-t", table, "-F", chain, check=False)
        for chain in ours_chains:
            out = _run(tool, "-w", "5", "-t", table, "-X", chain, check=False)
            if out.returncode:
                problems.append(f"{tool} -t {table} -X {chain}: {out.stderr.strip()}")
        return problems


def _unquote(args: list[str]) -> list[str]:
    """iptables -S quotes comments; split() broke them at spaces: join them back for -D."""
    out, buf = [], None
    for word in args:
        if buf is not None:
            buf += " " + word
            if word.endswith('"'):
                out.append(buf[1:-1])
                buf = None
        elif word.startswith('"') and not (len(word) > 1 and word.endswith('"')):
            buf = word
        else:
            out.append(word[1:-1] if len(word) > 1 and word.startswith('"') and word.endswith('"') else word)
    return out


class LocalCluster:
    def __init__(self, root: Path, binaries: dict[str, str] | None = None):
        found = binaries or find_binaries()
        if isinstance(found, str):
            raise RuntimeError(found)
        self.bin = found
        self.root = root
        self.pki = root / "pki"
        self.ip = node_ip()
        self.port = free_port(self.ip)
        self.server = f"https://{self.ip}:{self.port}"
        self.admin_kubeconfig = root / "admin.kubeconfig"
        self.sock = root / "containerd" / "containerd.sock"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.host = HostState()
        self.timings: dict[str, float] = {}
        self._lock = None
        self.start_seconds: float | None = None

    # -- processes -----------------------------------------------------------

    def _spawn(self, name: str, *args: str, binary: str | None = None) -> None:
        log = open(self.root / "logs" / f"{name}.log", "w")
        proc = subprocess.Popen([binary or self.bin[name], *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))

    def _check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.root / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _wait(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{what} not ready after {timeout:.0f}s; logs in {self.root / 'logs'}")

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")
        return ctx

    def request(self, method: str, path: str, body: dict | None = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw[:1] in (b"{", b"[") else {}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw[:1] == b"{" else {"message": raw.decode(errors="replace")}

    def apply(self, doc: dict) -> None:
        """Server-side apply as the admin (what `kubectl apply --server-side` does)."""
        kind, meta = doc["kind"], doc["metadata"]
        group = doc["apiVersion"]
        plural = {"ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles", "ConfigMap": "configmaps",
                  "ClusterRoleBinding": "clusterrolebindings", "Deployment": "deployments",
                  "Service": "services"}[kind]
        base = "/api/v1" if group == "v1" else f"/apis/{group}"
        ns = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
        code, answer = self.request("PATCH", f"{base}{ns}/{plural}/{meta['name']}?fieldManager=spin-tests&force=true",
                                    doc, "application/apply-patch+yaml")
        if code >= 300:
            raise RuntimeError(f"apply {kind}/{meta['name']}: {code} {answer.get('message')}")

    # -- starting ------------------------------------------------------------

    def start(self, timeout: float = 180) -> LocalCluster:
        began = time.monotonic()
        self._take_lock(timeout=900)
        self.host.snapshot()
        for sub in ("logs", "containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "volume-plugins"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        make_certificates(self.pki, self.ip, NODE_NAME)
        self.admin_kubeconfig.write_text(yaml.safe_dump(kubeconfig(
            self.server, self.pki / "ca.crt", cert=self.pki / "admin.crt", key=self.pki / "admin.key")))
        self._start_containerd()
        self._start_control_plane(timeout - (time.monotonic() - began))
        self.timings["control plane ready"] = round(time.monotonic() - began, 2)
        self._import_images()
        self._start_node()
        self._wait("node Ready", self._node_ready, timeout - (time.monotonic() - began))
        self.timings["node Ready"] = round(time.monotonic() - began, 2)
        self._start_dns()
        self._wait("CoreDNS", self._dns_ready, timeout - (time.monotonic() - began))
        self.start_seconds = round(time.monotonic() - began, 2)
        self.timings["cluster start (node Ready, DNS answering)"] = self.start_seconds
        return self

    def _take_lock(self, timeout: float) -> None:
        self._lock = open(LOCK, "w")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"another local node holds {LOCK} (one node per host); gave up after "
                                       f"{timeout:.0f}s") from None
                time.sleep(2)

    def _start_containerd(self) -> None:
        r = self.root
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{r}/containerd/root"
state = "{r}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "{r}/containerd/opt"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj, every sandbox failed without this.
  restrict_oom_score_adj = true
  # Pod network namespaces under our state, not in /run/netns where podman keeps its own.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{self.bin['runc']}"
        Root = "{r}/runc"
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{r}/cni/net.d"
    max_conf_num = 1
"""
        (r / "containerd" / "config.toml").write_text(config)
        (r / "cni" / "net.d" / "10-spin-kube.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": CNI_NETWORK,
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}],
                          "dataDir": str(r / "cni" / "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ]}, indent=1))
        self._spawn("containerd", "--config", str(r / "containerd" / "config.toml"))
        self._wait("containerd", lambda: self.sock.exists() and self._ctr("version", check=False).returncode == 0, 30)

    def _ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return _run(self.bin["ctr"], "--address", str(self.sock), "-n", "k8s.io", *args, check=check, timeout=timeout)

    def _kubeconfig_file(self, name: str) -> Path:
        path = self.root / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig(self.server, self.pki / "ca.crt", cert=self.pki / f"{name}.crt",
                                                  key=self.pki / f"{name}.key", user=name)))
        return path

    def _start_control_plane(self, timeout: float) -> None:
        began = time.monotonic()
        pki, r = self.pki, self.root
        etcd_port, peer_port = free_port(), free_port()
        self._spawn("etcd", "--data-dir", str(r / "etcd"), "--name", "spin-test",
                    "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                    "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                    "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                    "--initial-cluster", f"spin-test=http://127.0.0.1:{peer_port}",
                    "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
                    "--unsafe-no-fsync", "--log-level", "warn")
        self._spawn("kube-apiserver",
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    # The node address, not loopback: pods reach it through the kubernetes Service.
                    f"--bind-address={self.ip}", f"--advertise-address={self.ip}", f"--secure-port={self.port}",
                    f"--cert-dir={r / 'apiserver-certs'}",
                    f"--tls-cert-file={pki / 'server.crt'}", f"--tls-private-key-file={pki / 'server.key'}",
                    f"--client-ca-file={pki / 'ca.crt'}",
                    f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                    f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                    f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                    "--kubelet-preferred-address-types=InternalIP",
                    "--authorization-mode=Node,RBAC",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    f"--service-account-key-file={pki / 'sa.pub'}",
                    f"--service-account-signing-key-file={pki / 'sa.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    "--api-audiences=https://kubernetes.default.svc",
                    # PodSecurity is on by default; these add to the defaults.
                    "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,LimitRanger,ResourceQuota,"
                    "NodeRestriction",
                    # Beta in 1.34: the drift tests mutate pods after the decision the way a site's
                    # admission policy would, inside the API server.
                    "--feature-gates=MutatingAdmissionPolicy=true",
                    "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
                    "--allow-privileged=true", "--profiling=false", "--v=0")
        self._wait("kube-apiserver", lambda: self.request("GET", "/readyz")[0] == 200,
                   timeout - (time.monotonic() - began))
        self._spawn("kube-controller-manager",
                    f"--kubeconfig={self._kubeconfig_file('controller-manager')}",
                    "--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*", "--v=0")
        self._spawn("kube-scheduler", f"--kubeconfig={self._kubeconfig_file('scheduler')}",
                    "--leader-elect=false", "--secure-port=0", "--v=0")
        self._wait("kube-controller-manager (default service account)",
                   lambda: self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
                   timeout - (time.monotonic() - began))

    def _import_images(self) -> None:
        """pause (built from Kubernetes' pause.c), CoreDNS and podman's local images, into containerd's k8s.io."""
        began = time.monotonic()
        self._ctr("images", "import", self.bin["pause.tar"])
        self._ctr("images", "import", self.bin["coredns.tar"])
        for image in local_images():
            tar = self.root / "image.tar"
            _run(self.bin["podman"], "save", "--format", "docker-archive", "-o", str(tar), image, timeout=300)
            self._ctr("images", "import", str(tar))
            tar.unlink()
        self.timings["images imported"] = round(time.monotonic() - began, 2)

    def import_image(self, image: str) -> None:
        """Bring one more image from podman's store onto the node (a test that built its own)."""
        tar = self.root / "image.tar"
        _run(self.bin["podman"], "save", "--format", "docker-archive", "-o", str(tar), image, timeout=300)
        self._ctr("images", "import", str(tar))
        tar.unlink()

    def _start_node(self) -> None:
        r, pki = self.root, self.pki
        kubelet_port = free_port(self.ip)
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": self.ip, "port": kubelet_port, "readOnlyPort": 0, "healthzPort": 0,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(pki / "kubelet.crt"), "tlsPrivateKeyFile": str(pki / "kubelet.key"),
            "cgroupDriver": "cgroupfs", "failSwapOn": False,
            # This VM has cgroup v1 only: 1.34 still runs there when told to.
            "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{self.sock}", "imageServiceEndpoint": f"unix://{self.sock}",
            "clusterDNS": [DNS_IP], "clusterDomain": "cluster.local", "resolvConf": "/etc/resolv.conf",
            "podLogsDir": str(r / "pod-logs"), "volumePluginDir": str(r / "volume-plugins"),
            # Node Ready in seconds rather than tens of seconds.
            "nodeStatusUpdateFrequency": "2s", "nodeStatusReportFrequency": "10s", "syncFrequency": "10s",
            # Images come from podman's store, never from a registry: never collect them.
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "protectKernelDefaults": False, "serializeImagePulls": False,
            "maxPods": 60, "podPidsLimit": 1024, "shutdownGracePeriod": "0s",
        }
        (r / "kubelet-config.yaml").write_text(yaml.safe_dump(config))
        self._spawn("kubelet", f"--config={r / 'kubelet-config.yaml'}",
                    f"--kubeconfig={self._kubeconfig_file('node')}", f"--root-dir={r / 'kubelet'}",
                    f"--cert-dir={r / 'kubelet' / 'pki'}", f"--node-ip={self.ip}",
                    f"--hostname-override={NODE_NAME}", "--v=1")
        proxy = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self._kubeconfig_file("kube-proxy"))},
            "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE_NAME,
            "bindAddress": self.ip,
            "healthzBindAddress": f"127.0.0.1:{free_port()}", "metricsBindAddress": f"127.0.0.1:{free_port()}",
            # Leave the host's conntrack table settings alone.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        }
        (r / "kube-proxy-config.yaml").write_text(yaml.safe_dump(proxy))
        self._spawn("kube-proxy", f"--config={r / 'kube-proxy-config.yaml'}", "--v=0")

    def _node_ready(self) -> bool:
        code, node = self.request("GET", f"/api/v1/nodes/{NODE_NAME}")
        return code == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in node.get("status", {}).get("conditions", []))

    def _start_dns(self) -> None:
        ns = "kube-system"
        labels = {"k8s-app": "kube-dns"}
        for doc in [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": ns}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "spin:coredns"},
             "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                        "verbs": ["list", "watch"]},
                       {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                        "verbs": ["list", "watch"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "spin:coredns"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "spin:coredns"},
             "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}]},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": ns},
             # No forward: nothing outside this machine is reachable; cluster names are what compose needs.
             "data": {"Corefile": ".:53 {\n    errors\n    ready :8181\n    kubernetes cluster.local in-addr.arpa "
                                  "ip6.arpa {\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n    }\n"
                                  "    cache 30\n}\n"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": ns},
             "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                 "metadata": {"labels": labels},
                 "spec": {"serviceAccountName": "coredns", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 1,
                          "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                          "containers": [{
                              "name": "coredns", "image": COREDNS_IMAGE, "imagePullPolicy": "Never",
                              "args": ["-conf", "/etc/coredns/Corefile"],
                              "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                              "ports": [{"containerPort": 53, "protocol": "UDP", "name": "dns"},
                                        {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}],
                              "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181},
                                                 "periodSeconds": 1},
                              "securityContext": {"allowPrivilegeEscalation": False,
                                                  "capabilities": {"drop": ["ALL"],
                                                                   "add": ["NET_BIND_SERVICE"]}}}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": ns,
                                                                 "labels": labels},
             "spec": {"clusterIP": DNS_IP, "selector": labels,
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}},
        ]:
            self.apply(doc)

    def _dns_ready(self) -> bool:
        code, dep = self.request("GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns")
        return code == 200 and dep.get("status", {}).get("readyReplicas", 0) >= 1

    # -- stopping ------------------------------------------------------------

    def _drain(self, timeout: float = 60) -> None:
        """Workloads, then pods with a 1 s grace, then wait until the kubelet has stopped them all."""
        code, nss = self.request("GET", "/api/v1/namespaces")
        if code != 200:
            return
        for ns in nss.get("items", []):
            name = ns["metadata"]["name"]
            for group, plural in (("apps/v1", "deployments"), ("apps/v1", "statefulsets"),
                                  ("apps/v1", "daemonsets"), ("batch/v1", "jobs"), ("batch/v1", "cronjobs")):
                code, items = self.request("GET", f"/apis/{group}/namespaces/{name}/{plural}")
                for item in items.get("items", []) if code == 200 else []:
                    self.request("DELETE", f"/apis/{group}/namespaces/{name}/{plural}/{item['metadata']['name']}",
                                 {"propagationPolicy": "Background"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, pods = self.request("GET", "/api/v1/pods")
            items = pods.get("items", []) if code == 200 else []
            if not items:
                break
            for pod in items:
                meta = pod["metadata"]
                if not meta.get("deletionTimestamp"):
                    self.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                                 {"gracePeriodSeconds": 1})
            time.sleep(0.5)
        # The kubelet stops sandboxes (and so tears down their network) shortly after the pods are gone.
        while time.monotonic() < deadline:
            tasks = self._ctr("tasks", "ls", check=False, timeout=10).stdout.splitlines()[1:]
            if not any("RUNNING" in t for t in tasks):
                return
            time.sleep(0.5)

    def _stop(self, names: tuple[str, ...]) -> None:
        for _name, proc in [(n, p) for n, p in reversed(self.procs) if n in names]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

    def _kill_leftover_tasks(self) -> None:
        """Sandboxes or containers the kubelet did not stop: killed through containerd, then their shims."""
        for line in self._ctr("tasks", "ls", check=False, timeout=10).stdout.splitlines()[1:]:
            task = line.split()[0]
            self._ctr("tasks", "kill", "-s", "SIGKILL", task, check=False, timeout=10)
            self._ctr("tasks", "delete", "-f", task, check=False, timeout=10)

    def _kill_shims(self) -> None:
        """Shims of our containerd outlive it: they are found by our socket in their command line."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"containerd-shim-runc-v2") and str(self.sock).encode() in cmd:
                try:
                    os.kill(int(proc.name), 9)
                except ProcessLookupError:
                    pass

    def _unmount(self) -> list[str]:
        problems = []
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        mine = sorted({m for m in mounts if m == str(self.root) or m.startswith(str(self.root) + "/")},
                      key=lambda m: -m.count("/"))
        for m in mine:
            out = _run("umount", "-l", m, check=False)
            if out.returncode:
                problems.append(f"umount {m}: {out.stderr.strip()}")
        return problems

    def stop(self) -> list[str]:
        """Everything stopped and the host put back; returns what could not be cleaned (empty when all was)."""
        problems: list[str] = []
        try:
            if any(n == "kubelet" and p.poll() is None for n, p in self.procs):
                self._drain()
        except Exception as exc:
            problems.append(f"drain: {exc}")
        self._stop(("kube-proxy", "kubelet"))
        if self.sock.exists():
            self._kill_leftover_tasks()
        self._stop(("containerd",))
        self._kill_shims()
        self._stop(("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"))
        self.procs.clear()
        problems += self._unmount()
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            out = _run("ip", "link", "delete", BRIDGE, check=False)
            if out.returncode:
                problems.append(f"ip link delete {BRIDGE}: {out.stderr.strip()}")
        if self.host.sysctls:
            problems += self.host.restore()
        if self._lock:
            self._lock.close()
            self._lock = None
        return problems


def local_images() -> list[str]:
    """The local images the tests run (scripts/build-image.sh builds them into podman's store)."""
    out = _run("podman", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=localhost/spin/*",
               check=False)
    return sorted({line for line in out.stdout.splitlines() if line and "<none>" not in line})


def main() -> None:
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="Run the cluster suite's one-node Kubernetes by hand.")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(args.root)
    if args.action == "down":
        # After a run that was killed: nothing of ours is running, put back what a fresh snapshot cannot know.
        cluster.host.sysctls = {}
        print("\n".join(cluster.stop()) or "cleaned up")
        return
    try:
        cluster.start()
        print(f"export KUBECONFIG={cluster.admin_kubeconfig}  # {cluster.timings}", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        print("\n".join(cluster.stop()) or "stopped, host restored")


if __name__ == "__main__":
    main()
