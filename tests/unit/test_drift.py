"""Decided vs. running pod specs (backends/drift.py): what counts as drift and what is only the API server's defaults."""

from __future__ import annotations

import copy

from spin_gateway.backends.drift import runtime_drift, security_drift

DECIDED = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsUser": 1001, "runAsGroup": 1001, "runAsNonRoot": True, "supplementalGroups": [5001]},
    "containers": [{
        "name": "web", "image": "localhost/spin/busybox:1.35", "args": ["httpd", "-f"],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "cfs", "mountPath": "/results"}],
    }],
    "volumes": [{"name": "cfs", "hostPath": {"path": "/global/cfs/projects/astro/x"}}],
}


def stored(spec: dict) -> dict:
    """The pod as the API server stores it: defaults filled in, the token volume added."""
    pod = copy.deepcopy(spec)
    pod.update(serviceAccountName="default", serviceAccount="default", dnsPolicy="ClusterFirst", hostNetwork=False,
               restartPolicy="Always", schedulerName="default-scheduler")
    c = pod["containers"][0]
    c.update(terminationMessagePath="/dev/termination-log", imagePullPolicy="IfNotPresent")
    c["securityContext"]["procMount"] = "Default"
    c["volumeMounts"].append({"name": "kube-api-access-x1", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                              "readOnly": True})
    pod["volumes"][0]["hostPath"]["type"] = ""
    pod["volumes"].append({"name": "kube-api-access-x1", "projected": {"sources": []}})
    return pod


def test_the_api_servers_defaults_are_no_drift():
    assert security_drift(DECIDED, stored(DECIDED)) == []


def test_an_added_capability_is_drift_and_named():
    running = stored(DECIDED)
    running["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    assert security_drift(DECIDED, running) == [
        "container web securityContext.capabilities: decided {'drop': ['ALL']}, "
        "runs {'drop': ['ALL'], 'add': ['NET_ADMIN']}"]


def test_a_changed_user_a_host_namespace_and_a_new_host_path_are_each_drift():
    running = stored(DECIDED)
    running["securityContext"]["runAsUser"] = 0
    running["hostPID"] = True
    running["volumes"].append({"name": "root", "hostPath": {"path": "/"}})
    running["containers"][0]["volumeMounts"].append({"name": "root", "mountPath": "/host"})
    found = security_drift(DECIDED, running)
    assert "pod securityContext.runAsUser: decided 1001, runs 0" in found
    assert "pod hostPID: decided None, runs True" in found
    assert "volume root hostPath: decided None, runs {'path': '/'}" in found
    assert any(f.startswith("container web volumeMounts: decided") and "root:/host" in f for f in found)


def test_a_removed_setting_is_drift_too():
    running = stored(DECIDED)
    del running["containers"][0]["securityContext"]["seccompProfile"]
    running["containers"][0]["image"] = "localhost/spin/busybox:latest"
    found = security_drift(DECIDED, running)
    assert "container web securityContext.seccompProfile: decided {'type': 'RuntimeDefault'}, runs None" in found
    assert ("container web image: decided 'localhost/spin/busybox:1.35', runs 'localhost/spin/busybox:latest'"
            in found)


def test_the_user_the_runtime_reports_is_compared_when_it_reports_one():
    ok = [{"name": "web", "user": {"linux": {"uid": 1001, "gid": 1001, "supplementalGroups": [1001, 5001]}}}]
    assert runtime_drift(DECIDED, ok) == []
    bad = [{"name": "web", "user": {"linux": {"uid": 0, "gid": 0, "supplementalGroups": [0]}}}]
    assert runtime_drift(DECIDED, bad) == ["container web runs as user 0, decided 1001",
                                           "container web runs as group 0, decided 1001",
                                           "container web lacks the decided supplemental groups [5001]"]
    assert runtime_drift(DECIDED, [{"name": "web"}]) == []  # containerd 1.6 reports no user
