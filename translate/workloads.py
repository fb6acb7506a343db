"""One compose service as one workload: its container, pod spec, and kind.

Kind: a Deployment, which restarts containers, for services that run until
stopped (restart unset, always, unless-stopped; deploy.restart_policy any). A
service asked not to be restarted, or only on failure (restart no /
on-failure[:N], deploy.restart_policy none / on-failure) runs to completion
as Docker runs it: a Job (restartPolicy Never or OnFailure, backoffLimit N).
"""

from __future__ import annotations

import json
import re
from typing import Any

from spin_gateway.translate import units
from spin_gateway.translate.key_table import parse_security_opt, parse_user, split_host
from spin_gateway.translate.names import split_labels
from spin_gateway.translate.network import container_ports, network_label, service_networks
from spin_gateway.translate.storage import Mounts
from spin_gateway.translate.text import for_expansion, literal
from spin_gateway.vocabulary.labels import DEPENDS_ANNOTATION, LABEL_SERVICE

UNLIMITED_RETRIES = 2**31 - 1


def replicas(svc: dict[str, Any]) -> int:
    deploy = svc.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return deploy["replicas"]
    if svc.get("scale") is not None:
        return svc["scale"]
    return 1


def run_mode(svc: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """(kind, Job restartPolicy, backoffLimit) from restart / deploy.restart_policy (the latter wins, as in Compose)."""
    policy = (svc.get("deploy") or {}).get("restart_policy") or {}
    if policy.get("condition"):
        condition = policy["condition"]
        attempts = policy.get("max_attempts")
        if condition == "none":
            return "Job", "Never", 0
        if condition == "on-failure":
            return "Job", "OnFailure", int(attempts) if attempts else UNLIMITED_RETRIES
        return "Deployment", None, None
    restart = svc.get("restart")
    if restart == "no":
        return "Job", "Never", 0
    match = re.match(r"^on-failure(?::(\d+))?$", restart or "")
    if match:
        return "Job", "OnFailure", int(match.group(1)) if match.group(1) else UNLIMITED_RETRIES
    return "Deployment", None, None


def _probe(healthcheck: dict[str, Any] | None) -> dict[str, Any] | None:
    """Docker's healthcheck decides 'healthy' without restarting anything: that is a readiness probe."""
    if not healthcheck or healthcheck.get("disable"):
        return None
    test = healthcheck.get("test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        command = [literal(t) for t in test[1:]]
    elif test[0] == "CMD-SHELL":
        command = ["/bin/sh", "-c", literal(" ".join(test[1:]))]
    else:
        return None  # refused by the support table
    probe: dict[str, Any] = {"exec": {"command": command}}
    # Docker's defaults, written out: Kubernetes' own are different (10s period, 1s timeout).
    timing = {"periodSeconds": ("interval", "30s"), "timeoutSeconds": ("timeout", "30s"),
              "initialDelaySeconds": ("start_period", None)}
    # Docker reads 0 (retries, or a zero duration) as "inherit": the image's, else Docker's default.
    for field, (key, default) in timing.items():
        value = healthcheck.get(key) or default
        try:
            if value is not None and units.seconds(value) == 0:
                value = default
        except ValueError:
            pass  # refused by the support table
        if value is None:
            continue
        try:
            probe[field] = units.whole_seconds(value, minimum=0 if field == "initialDelaySeconds" else 1)
        except ValueError:
            pass  # refused by the support table
    retries = healthcheck.get("retries")
    probe["failureThreshold"] = int(retries) if retries else 3
    return probe


def _security_context(svc: dict[str, Any]) -> dict[str, Any]:
    sc: dict[str, Any] = {}
    user = parse_user(svc["user"]) if svc.get("user") else None
    if user:
        sc["runAsUser"] = user[0]
        if user[1] is not None:
            sc["runAsGroup"] = user[1]
    if svc.get("privileged") is not None:
        sc["privileged"] = svc["privileged"]
    if svc.get("read_only") is not None:
        sc["readOnlyRootFilesystem"] = svc["read_only"]
    caps = {}
    for key, field in (("cap_add", "add"), ("cap_drop", "drop")):
        names = [c.removeprefix("CAP_") for c in svc.get(key) or [] if re.match(r"^(CAP_)?[A-Z_]+$", c)]
        if names:
            caps[field] = names
    if caps:
        sc["capabilities"] = caps
    for item in svc.get("security_opt") or []:
        for field, value in (parse_security_opt(item) or {}).items():
            if isinstance(value, dict) and isinstance(sc.get(field), dict):
                sc[field] = {**sc[field], **value}
            else:
                sc[field] = value
    # Docker confines every unprivileged container with its default seccomp profile unless told
    # otherwise; a kubelet does not, so say it. A numeric non-zero user is non-root by construction.
    if not svc.get("privileged") and "seccompProfile" not in sc:
        sc["seccompProfile"] = {"type": "RuntimeDefault"}
    if user and user[0] != 0:
        sc["runAsNonRoot"] = True
    return sc


def _resources(svc: dict[str, Any]) -> dict[str, Any]:
    deploy_res = (svc.get("deploy") or {}).get("resources") or {}
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    for part, target in (("limits", limits), ("reservations", requests)):
        res = deploy_res.get(part) or {}
        try:
            if res.get("cpus") is not None:
                target["cpu"] = units.quantity_cpus(res["cpus"])
            if res.get("memory") is not None:
                target["memory"] = units.quantity_bytes(res["memory"])
        except ValueError:
            pass  # refused by the support table
    try:
        if svc.get("cpus") is not None and "cpu" not in limits:
            limits["cpu"] = units.quantity_cpus(svc["cpus"])
        if svc.get("mem_limit") is not None and "memory" not in limits:
            limits["memory"] = units.quantity_bytes(svc["mem_limit"])
        if svc.get("mem_reservation") is not None and "memory" not in requests:
            requests["memory"] = units.quantity_bytes(svc["mem_reservation"])
    except ValueError:
        pass  # refused by the support table
    out = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def _hook(hooks: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    for hook in hooks or []:
        command = hook.get("command")
        if isinstance(command, str):
            command = ["/bin/sh", "-c", command]
        if command:
            return {"exec": {"command": [literal(c) for c in command]}}
    return None


def container(name: str, svc: dict[str, Any], mounts: Mounts) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": svc["image"]}
    defined = [k for k, v in (svc.get("environment") or {}).items() if v is not None]
    if svc.get("entrypoint"):
        c["command"] = [for_expansion(x, defined) for x in svc["entrypoint"]]
    if svc.get("command"):
        c["args"] = [for_expansion(x, defined) for x in svc["command"]]
    if svc.get("working_dir"):
        c["workingDir"] = svc["working_dir"]
    env = [{"name": k, "value": for_expansion(v, defined)} for k, v in (svc.get("environment") or {}).items() if v is not None]
    if env:
        c["env"] = env
    ports = [{"containerPort": port, "protocol": proto} for port, proto in container_ports(svc)]
    if ports:
        c["ports"] = ports
    pull = {"always": "Always", "never": "Never", "missing": "IfNotPresent", "if_not_present": "IfNotPresent"}
    if svc.get("pull_policy") in pull:
        c["imagePullPolicy"] = pull[svc["pull_policy"]]
    resources = _resources(svc)
    if resources:
        c["resources"] = resources
    probe = _probe(svc.get("healthcheck"))
    if probe:
        c["readinessProbe"] = probe
    lifecycle = {}
    for key, field in (("post_start", "postStart"), ("pre_stop", "preStop")):
        hook = _hook(svc.get(key))
        if hook:
            lifecycle[field] = hook
    if lifecycle:
        c["lifecycle"] = lifecycle
    sc = _security_context(svc)
    if sc:
        c["securityContext"] = sc
    if mounts.mounts:
        c["volumeMounts"] = mounts.mounts
    if svc.get("tty"):
        c["tty"] = True
    if svc.get("stdin_open"):
        c["stdin"] = True
    return c


def pod_spec(name: str, svc: dict[str, Any], mounts: Mounts) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [container(name, svc, mounts)],
        # Docker injects no <SERVICE>_PORT variables and no API credentials; neither does this pod.
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
    }
    if mounts.volumes:
        spec["volumes"] = mounts.volumes
    pod_sc: dict[str, Any] = {}
    groups = [int(g) for g in svc.get("group_add") or [] if str(g).isdigit()]
    if groups:
        pod_sc["supplementalGroups"] = groups
    if svc.get("sysctls"):
        pod_sc["sysctls"] = [{"name": k, "value": str(v)} for k, v in sorted(svc["sysctls"].items())]
    if pod_sc:
        spec["securityContext"] = pod_sc
    if svc.get("stop_grace_period"):
        try:
            spec["terminationGracePeriodSeconds"] = units.whole_seconds(svc["stop_grace_period"])
        except ValueError:
            pass  # refused by the support table
    if svc.get("hostname") and re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", svc["hostname"]):
        spec["hostname"] = svc["hostname"]
    aliases: dict[str, list[str]] = {}
    for item in svc.get("extra_hosts") or []:
        host, ip = split_host(item)
        if host and ip and ip != "host-gateway":
            aliases.setdefault(ip, []).append(host)
    if aliases:
        spec["hostAliases"] = [{"ip": ip, "hostnames": hosts} for ip, hosts in aliases.items()]
    dns: dict[str, Any] = {}
    if svc.get("dns"):
        # Added after the cluster DNS (dnsPolicy ClusterFirst stays), so service names still resolve.
        dns["nameservers"] = [str(s) for s in svc["dns"]]
    if svc.get("dns_search"):
        dns["searches"] = list(svc["dns_search"])
    if svc.get("dns_opt"):
        dns["options"] = [dict(zip(("name", "value"), o.split(":", 1), strict=False)) for o in svc["dns_opt"]]
    if dns:
        spec["dnsConfig"] = dns
    platform = svc.get("platform")
    if platform and re.match(r"^linux/[a-z0-9]+(/[a-z0-9]+)?$", platform):
        spec["nodeSelector"] = {"kubernetes.io/os": "linux", "kubernetes.io/arch": platform.split("/")[1]}
    return spec


def workload(service: str, name: str, svc: dict[str, Any], mounts: Mounts, *, labels: dict[str, str],
             namespace: str, rwo_claims: set[str]) -> dict[str, Any]:
    good, other = split_labels(svc.get("labels"))
    deploy_good, deploy_other = split_labels((svc.get("deploy") or {}).get("labels"))
    pod_labels = {**good, **labels, LABEL_SERVICE: name}
    for net in service_networks(svc):
        pod_labels[network_label(net)] = "true"
    pod_annotations = {**other, **{k: v for k, v in (svc.get("annotations") or {}).items()
                                   if not k.startswith("spin.io/")}}
    template: dict[str, Any] = {"metadata": {"labels": pod_labels}, "spec": pod_spec(name, svc, mounts)}
    if pod_annotations:
        template["metadata"]["annotations"] = pod_annotations
    meta: dict[str, Any] = {"name": name, "namespace": namespace,
                            "labels": {**good, **deploy_good, **labels, LABEL_SERVICE: name}}
    annotations = {**other, **deploy_other}
    depends = {dep: (spec or {}).get("condition", "service_started") for dep, spec in (svc.get("depends_on") or {}).items()}
    if depends:
        annotations[DEPENDS_ANNOTATION] = json.dumps(depends, sort_keys=True)
    if annotations:
        meta["annotations"] = annotations
    kind, restart, backoff = run_mode(svc)
    count = replicas(svc)
    if kind == "Job":
        template["spec"]["restartPolicy"] = restart
        spec: dict[str, Any] = {"backoffLimit": backoff, "completions": count, "parallelism": count,
                                "template": template}
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}
    spec = {"replicas": count, "selector": {"matchLabels": {LABEL_SERVICE: name}}, "template": template}
    if set(mounts.claims) & rwo_claims:
        spec["strategy"] = {"type": "Recreate"}  # the old pod must let go of a ReadWriteOnce claim first
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
