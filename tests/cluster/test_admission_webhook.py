"""The admission webhook on a real API server: kubectl users meet the gateway's rules, mutations and audit.

The API server (a host process) calls the gateway over TLS on loopback, as the configurations
`spin gateway webhook-config` prints tell it (clientConfig.url https://127.0.0.1:PORT, caBundle of a CA made
here). kubectl users authenticate with client certificates the cluster's CA signs (CN = the facility user) and
hold the `edit` role in the test's namespaces, so what refuses them is the webhook, not RBAC. The gateway
itself runs as the shipped RBAC's service account, the default `admission.gateway_users`.

The cluster may be shared: every configuration registered here matches only this run's namespaces (by
name, with a uuid) and is deleted at teardown, before the namespaces.
"""

from __future__ import annotations

import json
import secrets
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from spin_gateway.audit.log import read_records
from spin_gateway.gateway_api.webhook_config import NAMESPACE_NAME_LABEL, webhook_configurations
from tests.cluster.conftest import apply_manifests, eventually, service_account_kubeconfig
from tests.cluster.controlplane import kubeconfig
from tests.e2e.conftest import ROOT, SPIN, free_port

RUN = uuid.uuid4().hex[:6]
ALICE_NS, MALLORY_NS, DOWN_NS = f"hook-a-{RUN}", f"hook-m-{RUN}", f"hook-down-{RUN}"
BUSYBOX = "localhost/spin/busybox:1.35"
# Small: the node (2 cores) is shared, and the site's default limit is a whole core per container.
COMPOSE = {"name": "x", "services": {"web": {"image": BUSYBOX, "command": ["sleep", "3600"], "deploy": {
    "resources": {"limits": {"cpus": "0.05", "memory": "32M"}}}}}}
RESOURCES = {"limits": {"cpu": "50m", "memory": "32Mi"}, "requests": {"cpu": "10m", "memory": "16Mi"}}


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def signed(folder: Path, name: str, subject: str, ext: str, ca: Path, ca_key: Path) -> tuple[Path, Path]:
    """A certificate signed by `ca`, written only under `folder` (never next to the cluster's CA)."""
    (folder / f"{name}.ext").write_text(ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
            cwd=folder)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca), "-CAkey", str(ca_key), "-set_serial",
            f"0x{secrets.token_hex(8)}", "-days", "1", "-out", f"{name}.crt", "-extfile", f"{name}.ext", cwd=folder)
    return folder / f"{name}.crt", folder / f"{name}.key"


class Webhook:
    """The gateway serving TLS on loopback, the configurations pointing at it, and kubectl as facility users."""

    def __init__(self, kube, tmp: Path):
        self.kube, self.tmp = kube, tmp
        pki = kube.local.pki if kube.local else Path(kube.kubeconfig).parent / "pki"
        if not (pki / "ca.key").exists():
            pytest.skip(f"the cluster's CA key is not at {pki}: kubectl users need certificates it signs")
        self.cluster_ca = pki / "ca.crt"
        # The webhook's own CA and serving certificate (the API server checks it against caBundle).
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "hook-ca.key", "-out", "hook-ca.crt",
                "-days", "1", "-subj", f"/CN=hook-ca-{RUN}", cwd=tmp)
        self.ca = tmp / "hook-ca.crt"
        self.cert, self.key = signed(tmp, "serving", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n"
                                     "extendedKeyUsage=serverAuth\n", self.ca, tmp / "hook-ca.key")
        self.users = {user: self._user_kubeconfig(user, pki) for user in ("alice", "mallory")}
        # The shipped gateway identity; the suite's admin sets up and cleans up (passed by the site rule).
        apply_manifests(kube, [d for name in ("namespace.yaml", "rbac.yaml")
                               for d in yaml.safe_load_all((ROOT / "examples/kubernetes" / name).read_text()) if d])
        self.gateway_kubeconfig = service_account_kubeconfig(kube, tmp, "spin-system", "spin-gateway")
        admin = yaml.safe_load(Path(kube.kubeconfig).read_text())
        admin_cert = admin["users"][0]["user"].get("client-certificate")
        admin_name = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline", "-in",
                                     admin_cert], capture_output=True, text=True).stdout if admin_cert else ""
        cn = next((line.split("=", 1)[1].strip() for line in admin_name.splitlines() if "commonName" in line),
                  "spin-test-admin")
        site = yaml.safe_load((ROOT / "rego/site.yaml").read_text())
        site["admission"]["allow_users"] = [*site["admission"]["allow_users"], cn]
        self.site = tmp / "site.yaml"
        self.site.write_text(yaml.safe_dump(site))
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.state = tmp / "state"
        self.audit_log = self.state / "audit.log"
        self.proc: subprocess.Popen | None = None
        self.start()
        self.configs = webhook_configurations(self.url, self.ca.read_bytes(), name=f"hook-{RUN}", timeout=10,
                                              match_expressions=[{"key": NAMESPACE_NAME_LABEL, "operator": "In",
                                                                  "values": [ALICE_NS, MALLORY_NS]}])
        # A second pair on a port nothing listens on, for one namespace: the webhook down.
        self.configs += webhook_configurations(f"https://127.0.0.1:{free_port()}", self.ca.read_bytes(),
                                               name=f"hook-down-{RUN}", timeout=5, match_expressions=[
                                                   {"key": NAMESPACE_NAME_LABEL, "operator": "In",
                                                    "values": [DOWN_NS]}])

    def _user_kubeconfig(self, user: str, pki: Path) -> Path:
        cert, key = signed(self.tmp, f"user-{user}", f"/O=hook-users-{RUN}/CN={user}", "extendedKeyUsage=clientAuth\n",
                           pki / "ca.crt", pki / "ca.key")
        path = self.tmp / f"{user}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig(self.kube.server, pki / "ca.crt", cert=cert, key=key, user=user)))
        return path

    def start(self) -> None:
        self.log = open(self.tmp / "gateway.log", "a")
        self.proc = subprocess.Popen(
            [*SPIN, "gateway", "serve", "--port", str(self.port), "--backend", "kubernetes",
             "--kubeconfig", str(self.gateway_kubeconfig), "--context", "spin-test",
             "--users", str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
             "--site-data", str(self.site), "--audit-log", str(self.audit_log), "--state-dir", str(self.state),
             "--tls-cert", str(self.cert), "--tls-key", str(self.key)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        verify = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", verify=verify, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gateway did not start: {(self.tmp / 'gateway.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def register(self) -> None:
        apply_manifests(self.kube, self.configs)

    def unregister(self) -> None:
        api = self.kube.admin()
        for doc in self.configs:
            res = api.resource(doc["apiVersion"], doc["kind"])
            try:
                api.request("DELETE", res.path(None, doc["metadata"]["name"]), what="clean up", retry=False)
            except Exception:
                pass

    def up(self, project: str, user: str, compose: dict | None = None) -> httpx.Response:
        token = subprocess.run([*SPIN, "gateway", "token", "--user", user, "--state-dir", str(self.state)],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        return httpx.put(f"{self.url}/v1/projects/{project}", json={"compose": compose or COMPOSE},
                         headers={"authorization": f"Bearer {token}"}, timeout=180,
                         verify=ssl.create_default_context(cafile=str(self.ca)))

    def kubectl(self, user: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        tool = self.kube.local.bin["kubectl"] if self.kube.local else shutil.which("kubectl")
        return subprocess.run([tool, f"--kubeconfig={self.users[user]}", *args], input=stdin, capture_output=True,
                              text=True, timeout=120)

    def records(self) -> list[dict]:
        return [r for r in read_records(self.audit_log) if r.get("via") == "admission"]


@pytest.fixture(scope="module")
def webhook(kube, tmp_path_factory):
    hook = Webhook(kube, tmp_path_factory.mktemp("hook"))
    api = kube.admin()
    try:
        # Made before the configurations exist: the one for the webhook that is down would refuse it.
        api.request("POST", "/api/v1/namespaces", what="namespace",
                    body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DOWN_NS}})
        hook.register()
        # The gateway's own `up` with the webhook on: the namespace and everything in it pass the webhook,
        # decided for the user the gateway names.
        began = time.monotonic()
        for project, user in ((ALICE_NS, "alice"), (MALLORY_NS, "mallory")):
            r = hook.up(project, user)
            assert r.status_code == 200, r.text
        kube.timings["`up` through the admission webhook"] = (time.monotonic() - began) / 2
        # kubectl users may edit both project namespaces (RBAC), so what refuses them is the webhook.
        for ns in (ALICE_NS, MALLORY_NS):
            apply_manifests(kube, [{
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": f"hook-users-{RUN}", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                              "name": f"hook-users-{RUN}"}]}])
        yield hook
    finally:
        hook.unregister()  # first: nothing else on the cluster may meet these configurations
        hook.stop()
        for ns in (ALICE_NS, MALLORY_NS, DOWN_NS):
            try:
                api.request("DELETE", f"/api/v1/namespaces/{ns}/pods", what="clean up", retry=False,
                            body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
            except Exception:
                pass
            try:
                api.request("DELETE", f"/api/v1/namespaces/{ns}", what="clean up", retry=False)
            except Exception:
                pass


def pod_yaml(name: str, namespace: str, *, privileged: bool = False, global_mount: bool = False,
             annotations: dict | None = None) -> str:
    container: dict = {"name": "c", "image": BUSYBOX, "command": ["sleep", "3600"], "resources": RESOURCES}
    spec: dict = {"containers": [container], "terminationGracePeriodSeconds": 0}
    if privileged:
        container["securityContext"] = {"privileged": True}
    if global_mount:
        spec["volumes"] = [{"name": "g", "hostPath": {"path": "/global/cfs/projects/astro"}}]
        container["volumeMounts"] = [{"name": "g", "mountPath": "/data"}]
    meta: dict = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})


def test_the_gateways_own_up_passed_the_webhook_for_the_user_it_named(webhook):
    made = {(r["object"]["kind"], r["namespace"] or r["object"]["name"]): r for r in webhook.records()
            if r["kubernetes_user"]["username"] == "system:serviceaccount:spin-system:spin-gateway"}
    for ns, user in ((ALICE_NS, "alice"), (MALLORY_NS, "mallory")):
        for kind in ("Namespace", "Deployment"):
            record = made.get((kind, ns))
            assert record and record["decision"] == "allow" and record["user"]["name"] == user, (kind, ns, record)
    dep = webhook.kube.admin().get(f"/apis/apps/v1/namespaces/{ALICE_NS}/deployments/web", "read")
    assert dep["metadata"]["annotations"]["spin.io/requested-by"] == "alice"
    # The Deployment's pods come from the cluster's controllers: passed by the site rule, on the record.
    assert eventually(lambda: any(r["passed_without_policy"] and r["object"]["kind"] == "Pod"
                                  for r in webhook.records() if r["namespace"] == ALICE_NS), timeout=60)


def test_kubectl_privileged_pod_is_refused_with_the_rules_message(webhook):
    out = webhook.kubectl("alice", "apply", "-f", "-", stdin=pod_yaml("priv", ALICE_NS, privileged=True))
    assert out.returncode != 0
    assert "denied the request" in out.stderr and "[no-privileged]" in out.stderr, out.stderr
    record = [r for r in webhook.records() if r["object"]["name"] == "priv"][-1]
    assert record["decision"] == "deny" and record["user"]["name"] == "alice"
    assert record["kubernetes_user"]["username"] == "alice" and record["verb"] == "CREATE"
    assert webhook.kube.admin().get(f"/api/v1/namespaces/{ALICE_NS}/pods/priv", "read") is None


def test_kubectl_pod_on_the_global_file_system_is_admitted_as_the_user(webhook):
    out = webhook.kubectl("alice", "apply", "-f", "-", stdin=pod_yaml("gfs", ALICE_NS, global_mount=True))
    assert out.returncode == 0, out.stderr
    stored = webhook.kube.admin().get(f"/api/v1/namespaces/{ALICE_NS}/pods/gfs", "read")
    assert stored["spec"]["securityContext"]["runAsUser"] == 1001  # alice's uid, patched in by the webhook
    assert stored["spec"]["securityContext"]["runAsGroup"] == 1001
    assert stored["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    phases = [r["phase"] for r in webhook.records() if r["object"]["name"] == "gfs" and r["decision"] == "allow"]
    assert phases[:2] == ["mutate", "validate"]
    gone(webhook, "gfs")


def gone(webhook, pod: str) -> None:
    """Admitted pods are removed at once: the shared node's CPU is for the other tests."""
    webhook.kube.admin().request("DELETE", f"/api/v1/namespaces/{ALICE_NS}/pods/{pod}", what="clean up",
                                 body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})


def test_kubectl_deployment_in_another_users_project_is_refused(webhook):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "intruder", "namespace": MALLORY_NS},
                  "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                           "spec": {"containers": [{"name": "c", "image": BUSYBOX, "resources": RESOURCES}]}}}}
    out = webhook.kubectl("alice", "apply", "-f", "-", stdin=yaml.safe_dump(deployment))
    assert out.returncode != 0 and "[namespace]" in out.stderr and "climate" in out.stderr, out.stderr
    assert webhook.kube.admin().get(f"/apis/apps/v1/namespaces/{MALLORY_NS}/deployments/intruder", "read") is None


def test_a_replayed_or_altered_gateway_object_is_decided_in_full(webhook):
    api = webhook.kube.admin()
    made = api.get(f"/apis/apps/v1/namespaces/{ALICE_NS}/deployments/web", "read")
    for key in ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation"):
        made["metadata"].pop(key, None)
    made.pop("status", None)
    # Replayed by mallory into alice's project, still saying `requested-by: alice`: not believed from mallory.
    replay = json.loads(json.dumps(made))
    replay["metadata"]["name"] = "replayed"
    out = webhook.kubectl("mallory", "create", "-f", "-", stdin=yaml.safe_dump(replay))
    assert out.returncode != 0 and "[namespace]" in out.stderr, out.stderr
    record = [r for r in webhook.records() if r["object"]["name"] == "replayed"][-1]
    assert record["user"]["name"] == "mallory" and record["requested_by_ignored"] == "alice"
    # Altered by alice herself (privileged added to the gateway's own object): refused, the rule named.
    altered = json.loads(json.dumps(made))
    altered["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    out = webhook.kubectl("alice", "replace", "-f", "-", stdin=yaml.safe_dump(altered))
    assert out.returncode != 0 and "[no-privileged]" in out.stderr, out.stderr
    still = api.get(f"/apis/apps/v1/namespaces/{ALICE_NS}/deployments/web", "read")
    assert "privileged" not in json.dumps(still["spec"]["template"]["spec"]["containers"][0])
    # A pod claiming bob from alice: decided (and UID-mapped) as alice.
    out = webhook.kubectl("alice", "apply", "-f", "-", stdin=pod_yaml(
        "claims-bob", ALICE_NS, global_mount=True, annotations={"spin.io/requested-by": "bob"}))
    assert out.returncode == 0, out.stderr
    stored = api.get(f"/api/v1/namespaces/{ALICE_NS}/pods/claims-bob", "read")
    assert stored["spec"]["securityContext"]["runAsUser"] == 1001
    gone(webhook, "claims-bob")


def test_the_webhook_down_means_the_cluster_refuses(webhook):
    from spin_gateway.vocabulary.errors import KubeApiError

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": DOWN_NS}, "data": {}}
    # Even the cluster's admin: failurePolicy Fail, nothing answers, nothing is made.
    with pytest.raises(KubeApiError) as info:
        webhook.kube.admin().request("POST", f"/api/v1/namespaces/{DOWN_NS}/configmaps", what="create", body=cm,
                                     retry=False)
    assert "failed calling webhook" in info.value.message
    assert webhook.kube.admin().get(f"/api/v1/namespaces/{DOWN_NS}/configmaps/x", "read") is None
