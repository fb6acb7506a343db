"""One row per mapped compose key: the table must cover every key the support table calls mapped.

Each row is a service snippet and what a user would look for in the objects. A key added to the
support table as mapped without a row here fails the first test.
"""

from __future__ import annotations

import json

import pytest

from spin_gateway.translate.key_table import SERVICE_KEYS
from tests.translate.helpers import model, objects
from tests.translate.schema import schema_errors


def _workload(objs):
    return next(o for o in objs if o["kind"] in ("Deployment", "Job") and o["metadata"]["name"] == "web")


def _c(objs):
    return _workload(objs)["spec"]["template"]["spec"]["containers"][0]


def _pod(objs):
    return _workload(objs)["spec"]["template"]["spec"]


def _kinds(objs, kind):
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


PORT = {"target": 80, "published": "8080", "protocol": "tcp"}
ROWS = {
    "annotations": ({"annotations": {"example.org/a": "1"}},
                    lambda o: _workload(o)["spec"]["template"]["metadata"]["annotations"] == {"example.org/a": "1"}),
    "build": ({"build": {"context": "/src"}, "image": None},
              lambda o: _c(o)["image"] == "localhost/demo-web:latest" and _c(o)["imagePullPolicy"] == "IfNotPresent"),
    "dns": ({"dns": ["10.0.0.53"]}, lambda o: _pod(o)["dnsConfig"] == {"nameservers": ["10.0.0.53"]}
            and "dnsPolicy" not in _pod(o)),
    "volumes_from": ({"volumes_from": ["db:ro"]}, lambda o: _c(o)["volumeMounts"] == [
        {"name": "claim-data", "mountPath": "/data", "readOnly": True}]
        and _kinds(o, "PersistentVolumeClaim")["data"]["spec"]["accessModes"] == ["ReadWriteMany"]),
    "cap_add": ({"cap_add": ["NET_ADMIN"]}, lambda o: _c(o)["securityContext"]["capabilities"] == {"add": ["NET_ADMIN"]}),
    "cap_drop": ({"cap_drop": ["ALL"]}, lambda o: _c(o)["securityContext"]["capabilities"] == {"drop": ["ALL"]}),
    "command": ({"command": ["run"]}, lambda o: _c(o)["args"] == ["run"]),
    "configs": ({"configs": [{"source": "c", "target": "/etc/c.conf"}]},
                lambda o: _kinds(o, "ConfigMap")["c"]["data"] == {"content": "x"}
                and _c(o)["volumeMounts"][0]["mountPath"] == "/etc/c.conf"),
    "container_name": ({"container_name": "legacy"}, lambda o: "legacy" in _kinds(o, "Service")),
    "cpus": ({"cpus": 2}, lambda o: _c(o)["resources"] == {"limits": {"cpu": "2"}}),
    "depends_on": ({"depends_on": {"db": {"condition": "service_healthy"}}},
                   lambda o: json.loads(_kinds(o, "Deployment")["web"]["metadata"]["annotations"]["spin.io/depends-on"])
                   == {"db": "service_healthy"}),
    "deploy": ({"deploy": {"replicas": 2}}, lambda o: _workload(o)["spec"]["replicas"] == 2),
    "dns_opt": ({"dns_opt": ["ndots:1"]}, lambda o: _pod(o)["dnsConfig"] == {"options": [{"name": "ndots", "value": "1"}]}),
    "dns_search": ({"dns_search": ["a.org"]}, lambda o: _pod(o)["dnsConfig"] == {"searches": ["a.org"]}),
    "entrypoint": ({"entrypoint": ["/init"]}, lambda o: _c(o)["command"] == ["/init"]),
    "environment": ({"environment": {"A": "b"}}, lambda o: _c(o)["env"] == [{"name": "A", "value": "b"}]),
    "expose": ({"expose": ["9000"]}, lambda o: _kinds(o, "Service")["web"]["spec"]["ports"][0]["port"] == 9000),
    "extra_hosts": ({"extra_hosts": ["h=10.1.1.1"]}, lambda o: _pod(o)["hostAliases"] == [{"ip": "10.1.1.1", "hostnames": ["h"]}]),
    "group_add": ({"group_add": ["5"]}, lambda o: _pod(o)["securityContext"] == {"supplementalGroups": [5]}),
    "healthcheck": ({"healthcheck": {"test": ["CMD", "true"]}}, lambda o: _c(o)["readinessProbe"]["exec"] == {"command": ["true"]}),
    "hostname": ({"hostname": "h1"}, lambda o: _pod(o)["hostname"] == "h1"),
    "image": ({"image": "registry.example.org/a/b:1"}, lambda o: _c(o)["image"] == "registry.example.org/a/b:1"),
    "labels": ({"labels": {"role": "web"}}, lambda o: _workload(o)["spec"]["template"]["metadata"]["labels"]["role"] == "web"),
    "links": ({"links": ["db"]}, lambda o: "db" in _kinds(o, "Service")),
    "mem_limit": ({"mem_limit": "1g"}, lambda o: _c(o)["resources"] == {"limits": {"memory": "1Gi"}}),
    "mem_reservation": ({"mem_reservation": "1g"}, lambda o: _c(o)["resources"] == {"requests": {"memory": "1Gi"}}),
    "network_mode": ({"network_mode": "bridge"}, lambda o: "hostNetwork" not in _pod(o)),
    "networks": ({"networks": {"default": None}},
                 lambda o: _workload(o)["spec"]["template"]["metadata"]["labels"]["network.spin.io/default"] == "true"
                 and "network-default" in _kinds(o, "NetworkPolicy")),
    "platform": ({"platform": "linux/amd64"}, lambda o: _pod(o)["nodeSelector"]["kubernetes.io/arch"] == "amd64"),
    "ports": ({"ports": [PORT]}, lambda o: json.loads(_kinds(o, "Service")["web"]["metadata"]["annotations"]["spin.io/published"])[0]["published"] == 8080),
    "post_start": ({"post_start": [{"command": ["warm"]}]}, lambda o: _c(o)["lifecycle"] == {"postStart": {"exec": {"command": ["warm"]}}}),
    "pre_stop": ({"pre_stop": [{"command": ["drain"]}]}, lambda o: _c(o)["lifecycle"] == {"preStop": {"exec": {"command": ["drain"]}}}),
    "privileged": ({"privileged": True}, lambda o: _c(o)["securityContext"] == {"privileged": True}),
    "pull_policy": ({"pull_policy": "never"}, lambda o: _c(o)["imagePullPolicy"] == "Never"),
    "read_only": ({"read_only": True}, lambda o: _c(o)["securityContext"] == {"readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"}}),
    "restart": ({"restart": "no"}, lambda o: _workload(o)["kind"] == "Job"),
    "scale": ({"scale": 3}, lambda o: _workload(o)["spec"]["replicas"] == 3),
    "secrets": ({"secrets": [{"source": "s"}]}, lambda o: "s" in _kinds(o, "Secret")
                and _c(o)["volumeMounts"][0]["mountPath"] == "/run/secrets/s"),
    "security_opt": ({"security_opt": ["no-new-privileges"]}, lambda o: _c(o)["securityContext"] == {"allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}}),
    "shm_size": ({"shm_size": "1g"}, lambda o: _pod(o)["volumes"] == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}]),
    "stdin_open": ({"stdin_open": True}, lambda o: _c(o)["stdin"] is True),
    "stop_grace_period": ({"stop_grace_period": "3s"}, lambda o: _pod(o)["terminationGracePeriodSeconds"] == 3),
    "stop_signal": ({"stop_signal": "SIGTERM"}, lambda o: "lifecycle" not in _c(o)),
    "sysctls": ({"sysctls": {"net.core.somaxconn": "8"}}, lambda o: _pod(o)["securityContext"]["sysctls"] == [{"name": "net.core.somaxconn", "value": "8"}]),
    "tmpfs": ({"tmpfs": ["/scratch"]}, lambda o: _pod(o)["volumes"] == [{"name": "tmpfs-0", "emptyDir": {"medium": "Memory"}}]),
    "tty": ({"tty": True}, lambda o: _c(o)["tty"] is True),
    "user": ({"user": "7:8"}, lambda o: _c(o)["securityContext"] == {"runAsUser": 7, "runAsGroup": 8, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}),
    "volumes": ({"volumes": [{"type": "volume", "source": "data", "target": "/data"}]},
                lambda o: "data" in _kinds(o, "PersistentVolumeClaim")),
    "working_dir": ({"working_dir": "/w"}, lambda o: _c(o)["workingDir"] == "/w"),
}


def test_every_mapped_key_has_a_row():
    mapped = {k for k, row in SERVICE_KEYS.items() if row.fate == "mapped"}
    assert sorted(mapped - set(ROWS)) == [] and sorted(set(ROWS) - mapped) == []


@pytest.mark.parametrize("key", sorted(ROWS))
def test_the_mapped_key_becomes_what_the_table_says(key):
    snippet, expect = ROWS[key]
    db = {"volumes": [{"type": "volume", "source": "data", "target": "/data"}]} if key == "volumes_from" else {}
    m = model({"web": snippet, "db": db}, volumes={"data": {}}, secrets={"s": {"content": "x"}}, configs={"c": {"content": "x"}})
    objs = objects(m)
    assert expect(objs), key
    assert [e for o in objs for e in schema_errors(o)] == []
