"""What the policy decided, running on a real node: read back from the kubelet, the runtime and /proc.

Every test here runs real pods on the suite's one node (tests/cluster/node.py):
containerd, runc, the bridge CNI, kube-proxy and CoreDNS. What a researcher
would notice is asserted: the portal answering through its Service, the
worker finding it by name, `id` and /proc/self/status inside the containers,
the owner of a file on the global file system, the kubelet's own reasons when
a pod cannot run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from spin_gateway.audit.verify import verify
from spin_gateway.vocabulary.errors import WaitTimeout
from tests.cluster.conftest import compose_calls, down_calls, eventually, exec_in, kubectl, pods_of
from tests.cluster.test_gateway import EXAMPLE
from tests.e2e.conftest import ROOT

ALICE = {"uid": 1001, "gid": 1001, "groups": {5001}}


def _node_only(kube):
    if kube.local is None:
        pytest.skip("reads the node's host paths: runs on the suite's own node only")


@pytest.fixture
def astro_dir():
    """A project folder on the (stand-in) global file system: group astro may write, nobody else."""
    top = Path(f"/global/cfs/projects/astro/spin-kube-{uuid.uuid4().hex[:8]}")
    (top / "results").mkdir(parents=True)
    shutil.copytree(ROOT / "examples/science-gateway/portal", top / "portal")
    os.chown(top / "results", 0, 5001)
    os.chmod(top / "results", 0o770)
    yield top
    shutil.rmtree(top)


def status_fields(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def effective(spec: dict, container: dict, field: str):
    """A security setting as Kubernetes applies it: the container's value, else the pod's."""
    return (container.get("securityContext") or {}).get(field, (spec.get("securityContext") or {}).get(field))


def test_the_example_project_runs_as_decided_and_its_portal_answers(kube, kube_gateway, projects, astro_dir):
    _node_only(kube)
    ref = projects.new("sg")
    env = {"PORTAL_DIR": str(astro_dir / "portal"), "RESULTS_DIR": str(astro_dir / "results")}
    began = time.monotonic()
    up = kube_gateway.spin("-f", str(EXAMPLE), "-p", ref.project, "up", "--wait", "--timeout", "120", "--json",
                           env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    ns = ref.namespace

    # The portal answers through its Service: the (headless) Service's name, resolved by the
    # cluster's DNS as the worker resolves it, then its port, from the host.
    svc = kube.admin().get(f"/api/v1/namespaces/{ns}/services/portal", "read")
    port = svc["spec"]["ports"][0]["port"]
    address = eventually(lambda: resolve(f"portal.{ns}.svc.cluster.local"), timeout=30)
    assert address and address.startswith("10.244."), address
    page = eventually(lambda: _get(f"http://{address}:{port}/"), timeout=30)
    kube.timings["`spin up --wait` of examples/science-gateway to a portal answering"] = time.monotonic() - began
    assert page and "<h1>" in page, page

    # The worker finds the portal by its service name (CoreDNS) and writes as alice on /global.
    log = astro_dir / "results/jobs.log"
    assert eventually(lambda: log.exists() and "(portal: " in log.read_text(), timeout=60), \
        kube_gateway.spin("-p", ref.project, "logs", "worker").stdout
    title = page.split("<h1>")[1].split("</h1>")[0]
    # The worker starts with the portal (depends_on: service_started), so its first job may find the
    # portal not serving yet, as with docker compose: some job names the portal's title.
    assert re.search(rf"^worker 1001: processed job \d+ \(portal: {re.escape(title)}\)$", log.read_text(), re.M), \
        log.read_text()
    assert (log.stat().st_uid, log.stat().st_gid) == (ALICE["uid"], ALICE["gid"])

    for service in ("portal", "worker"):
        [pod] = pods_of(kube, ns, service)
        dep = kube.admin().get(f"/apis/apps/v1/namespaces/{ns}/deployments/{service}", "read")
        spec = dep["spec"]["template"]["spec"]
        [container] = spec["containers"]
        # The policy's UID mapping, as the process sees it.
        ident = exec_in(kube, pod, "id").strip()
        assert ident.startswith("uid=1001 gid=1001"), ident
        assert "5001" in ident.split("groups=")[1], ident
        assert (effective(spec, container, "runAsUser"), effective(spec, container, "runAsGroup")) == (1001, 1001)
        # Capabilities, no-new-privileges and seccomp, from the kernel's view of PID 1.
        status = status_fields(exec_in(kube, pod, "cat", "/proc/1/status"))
        drop = set((container.get("securityContext") or {}).get("capabilities", {}).get("drop") or [])
        assert "ALL" in drop
        assert status["CapEff"] == status["CapPrm"] == status["CapAmb"] == "0000000000000000", status
        no_escalation = (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is False
        assert status["NoNewPrivs"] == ("1" if no_escalation else "0")
        seccomp = (effective(spec, container, "seccompProfile") or {}).get("type")
        assert seccomp == "RuntimeDefault"
        assert status["Seccomp"] == "2", status  # 2: a filter (the runtime's default profile) is loaded
        # The decided user and groups: the uid and gids the kernel reports, not only what `id` prints.
        assert status["Uid"].split()[:2] == ["1001", "1001"] and status["Gid"].split()[:2] == ["1001", "1001"]
        assert "5001" in status["Groups"].split()

    # Readiness from the real probe (the compose healthcheck), logs and ps from the real pods.
    ps = json.loads(kube_gateway.spin("-p", ref.project, "ps", "--json").stdout)
    services = {s["service"]: s for s in ps["services"]}
    assert (services["portal"]["ready"], services["portal"]["state"]) == (1, "running")
    [portal] = pods_of(kube, ns, "portal")
    assert portal["spec"]["containers"][0]["readinessProbe"]["exec"]["command"][-1] == "http://127.0.0.1:8080/"
    logs = kube_gateway.spin("-p", ref.project, "logs", "worker", "--tail", "3")
    assert "worker | worker 1001: processed job" in logs.stdout, logs.stdout + logs.stderr
    portal_logs = kube_gateway.spin("-p", ref.project, "logs", "portal")
    assert "GET /" in portal_logs.stdout or "response:200" in portal_logs.stdout, portal_logs.stdout

    down = kube_gateway.spin("-p", ref.project, "down", "-v")
    assert down.returncode == 0, down.stderr
    assert kube.admin().get(f"/api/v1/namespaces/{ns}", "read") is None
    assert log.exists()  # down removes the project's objects, never the researcher's files
    assert verify(kube_gateway.audit_log).ok


def resolve(name: str) -> str | None:
    """The address CoreDNS (the kube-dns Service) gives for a name, asked from the host."""
    from tests.cluster.node import DNS_IP

    out = subprocess.run(["busybox", "nslookup", name, DNS_IP], capture_output=True, text=True, timeout=10)
    found = [line.split()[-1] for line in out.stdout.splitlines()[2:] if line.startswith("Address")]
    return found[0] if found else None


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.read().decode()
    except OSError:
        return None


def up(backend, tmp_path, ref, compose, name="compose.yaml"):
    calls = compose_calls(tmp_path, compose, ref, backend.existing_objects(ref), name=name)
    return {(r.kind, r.name): r.action for r in backend.apply(ref, calls)}, calls


SMALL = """
services:
  app:
    image: localhost/spin/busybox:1.35
    command: ["sh", "-c", "echo started $$GREETING; trap 'exit 0' TERM; while true; do sleep 1; done"]
    environment:
      GREETING: hello
    deploy:
      resources:
        limits: {cpus: "0.2", memory: 64M}
"""


def test_wait_gives_the_kubelets_reason_for_a_crash_loop(kube, backend, projects, tmp_path):
    ref = projects.new("crash")
    up(backend, tmp_path, ref, SMALL.replace('command: ["sh", "-c", "echo started', 'command: ["sh", "-c", "echo '
                                            'boom; exit 3; echo'))
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=25)
    message = info.value.message
    # The kubelet's state at that moment: in its back-off, or just exited again.
    assert re.search(r"app \(0/1 ready\): container app (keeps crashing \(restarted \d+ times, last exit code 3\)|"
                     r"exited with code 3)", message), message
    assert "last log lines: boom" in message, message


def test_wait_gives_the_kubelets_reason_for_a_missing_image(kube, backend, projects, tmp_path):
    ref = projects.new("noimg")
    up(backend, tmp_path, ref, SMALL.replace("localhost/spin/busybox:1.35", "localhost/spin/not-built:1.0"))
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=15)
    message = info.value.message
    assert "app (0/1 ready): image localhost/spin/not-built:1.0 cannot be pulled (" in message, message
    assert any(r in message for r in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull")), message


def test_wait_gives_the_schedulers_reason_for_a_pod_no_node_can_take(kube, backend, projects, tmp_path):
    ref = projects.new("big")
    # 8 cpus is within the site's maxima, and more than this 2-core node has.
    up(backend, tmp_path, ref, SMALL.replace('limits: {cpus: "0.2", memory: 64M}', 'limits: {cpus: "8", memory: 64M}'))
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=10)
    message = info.value.message
    assert "app (0/1 ready): cannot be placed on any node: 0/1 nodes are available: 1 Insufficient cpu" in message


def test_readiness_comes_from_the_real_probe(kube, backend, projects, tmp_path):
    ref = projects.new("probe")
    compose = SMALL + """    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 1s
      retries: 1
"""
    up(backend, tmp_path, ref, compose)
    with pytest.raises(WaitTimeout) as info:
        backend.wait(ref, timeout=8)
    assert "app (0/1 ready): running but not ready (its health check does not pass yet)" in info.value.message
    [pod] = pods_of(kube, ref.namespace, "app")
    exec_in(kube, pod, "touch", "/tmp/ready")
    statuses = backend.wait(ref, timeout=20)
    assert [(s.service, s.ready, s.state) for s in statuses] == [("app", 1, "running")]


def test_logs_and_ps_come_from_the_running_pods(kube, backend, projects, tmp_path):
    ref = projects.new("logs")
    up(backend, tmp_path, ref, SMALL)
    statuses = backend.wait(ref, timeout=60)
    assert [(s.service, s.ready, s.desired, s.state, s.restarts) for s in statuses] == [("app", 1, 1, "running", 0)]
    lines = eventually(lambda: list(backend.logs(ref, "app", tail=10, since="5m")), timeout=20)
    assert lines == ["app | started hello"]


def test_a_changed_compose_rolls_the_pods_over(kube, backend, projects, tmp_path):
    ref = projects.new("roll")
    up(backend, tmp_path, ref, SMALL)
    backend.wait(ref, timeout=60)
    [old] = pods_of(kube, ref.namespace, "app")
    actions, _ = up(backend, tmp_path, ref, SMALL.replace("GREETING: hello", "GREETING: again"), name="b.yaml")
    assert actions[("Deployment", "app")] == "configured"
    backend.wait(ref, timeout=60)
    new = eventually(lambda: [p for p in pods_of(kube, ref.namespace, "app") if p["metadata"]["uid"] !=
                              old["metadata"]["uid"]], timeout=30)
    assert len(new) == 1
    assert eventually(lambda: [p["metadata"]["name"] for p in pods_of(kube, ref.namespace, "app")] ==
                      [new[0]["metadata"]["name"]], timeout=30)
    assert exec_in(kube, new[0], "sh", "-c", "echo $GREETING").strip() == "again"
    # The old pod is listed (and its logs shown) until it has finished terminating.
    assert eventually(lambda: list(backend.logs(ref, "app", tail=5, since=None)) == ["app | started again"],
                      timeout=30), list(backend.logs(ref, "app", tail=5, since=None))


def test_down_removes_one_project_and_another_users_project_keeps_running(kube, backend, projects, tmp_path):
    from spin_gateway.backends.base import ProjectRef

    mine = projects.new("mine")
    theirs_name = projects.new("theirs").project
    theirs = ProjectRef(theirs_name, theirs_name, owner="bob", facility_project="climate")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    up(backend, tmp_path / "a", mine, SMALL)
    up(backend, tmp_path / "b", theirs, SMALL)
    backend.wait(mine, timeout=60)
    backend.wait(theirs, timeout=60)
    [their_pod] = pods_of(kube, theirs.namespace)
    results = {(r.kind, r.name): r.action for r in backend.delete(mine, down_calls(backend, mine), volumes=True)}
    assert results[("Deployment", "app")] == "deleted" and results[("Namespace", mine.namespace)] == "deleted"
    assert kube.admin().get(f"/api/v1/namespaces/{mine.namespace}", "read") is None
    [still] = pods_of(kube, theirs.namespace)
    assert still["metadata"]["uid"] == their_pod["metadata"]["uid"]
    assert still["status"]["containerStatuses"][0]["restartCount"] == 0
    assert exec_in(kube, still, "echo", "alive").strip() == "alive"


def test_verify_running_finds_what_a_mutation_after_the_decision_changed(kube, backend, projects, tmp_path):
    """A pod that runs other than decided (here: a capability added behind the gateway's back) is drift."""
    ref = projects.new("drift")
    _, calls = up(backend, tmp_path, ref, SMALL)
    backend.wait(ref, timeout=60)
    decided = [c.object for c in calls]
    assert backend.verify_running(ref, decided) == []
    # Someone with cluster rights changes the running Deployment: the pods now run with NET_RAW.
    kubectl(kube, "-n", ref.namespace, "patch", "deployment", "app", "--type=json", "-p", json.dumps([
        {"op": "add", "path": "/spec/template/spec/containers/0/securityContext/capabilities",
         "value": {"add": ["NET_RAW"]}}]))
    eventually(lambda: [p for p in pods_of(kube, ref.namespace, "app")
                        if (p["spec"]["containers"][0]["securityContext"].get("capabilities") or {}).get("add")
                        and p["status"].get("phase") == "Running"], timeout=60)
    backend.wait(ref, timeout=60)
    found = eventually(lambda: backend.verify_running(ref, decided), timeout=30)
    assert found and all("container app securityContext.capabilities: decided" in d for d in found), found
    assert "'add': ['NET_RAW']" in found[0]


def test_up_wait_fails_and_audits_drift_when_admission_changes_the_pods(kube, kube_gateway, projects, tmp_path):
    """A site's mutating admission adds a capability the policy never decided: `up --wait` says so and fails."""
    ref = projects.new("mut")
    name = f"spin-test-{ref.project}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail", "reinvocationPolicy": "Never",
                 "matchConstraints": {
                     "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                        "resources": ["pods"]}],
                     "objectSelector": {"matchLabels": {"spin.io/project": ref.project}}},
                 "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": (
                     '[JSONPatch{op: "add", path: "/spec/containers/0/securityContext/capabilities", '
                     'value: {"add": ["NET_RAW"]}}]')}}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "MutatingAdmissionPolicyBinding",
               "metadata": {"name": name}, "spec": {"policyName": name}}
    api = kube.admin()
    for doc, plural in ((policy, "mutatingadmissionpolicies"), (binding, "mutatingadmissionpolicybindings")):
        api.request("POST", f"/apis/admissionregistration.k8s.io/v1beta1/{plural}", what="create", body=doc)
    try:
        compose = tmp_path / "compose.yaml"
        compose.write_text(SMALL)
        # The API server takes a moment to load a new admission policy.
        time.sleep(2)
        waited = kube_gateway.spin("-f", str(compose), "-p", ref.project, "up", "--wait", "--timeout", "60")
    finally:
        for plural in ("mutatingadmissionpolicybindings", "mutatingadmissionpolicies"):
            api.request("DELETE", f"/apis/admissionregistration.k8s.io/v1beta1/{plural}/{name}", what="delete")
    assert waited.returncode == 1, waited.stdout + waited.stderr
    assert "what runs differs from what the policy decided" in waited.stderr
    assert "container app securityContext.capabilities: decided None, runs {'add': ['NET_RAW']}" in waited.stderr, \
        waited.stderr
    records = [json.loads(line) for line in kube_gateway.audit_log.read_text().splitlines()]
    drift = [r for r in records if r.get("type") == "drift"]
    assert len(drift) == 1 and drift[0]["project"] == ref.project and drift[0]["backend"] == "kubernetes"
    assert any("NET_RAW" in d for d in drift[0]["differences"])
    assert verify(kube_gateway.audit_log).ok
