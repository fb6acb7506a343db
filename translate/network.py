"""How services reach each other and the outside: headless Services and NetworkPolicies.

Docker gives every service a DNS name on each network it joins, and any port
of it is reachable there. A headless Service (clusterIP: None) with the
service's name does the same in Kubernetes: its name resolves to the pods'
addresses, every port reachable. The declared ports (ports, expose) are listed
on it; the published ones also go, as JSON, in the annotation spin.io/published
for the backend to publish (the podman backend maps them to host ports; no
hostPort is put in a pod spec).

Networks: each pod carries the label network.spin.io/<net>: "true" for every
network it joins, and each network has a NetworkPolicy that admits traffic to
its members only from its members, so services reach each other only over
networks they share. A service with published ports gets one more policy that
admits those ports from anywhere, as Docker publishes them to the host.
"""

from __future__ import annotations

import json
from typing import Any

from translate.names import dns_name

PUBLISHED_ANNOTATION = "spin.io/published"
LABEL_SERVICE = "spin.io/service"
NETWORK_LABEL_PREFIX = "network.spin.io/"


def service_networks(svc: dict[str, Any]) -> list[str]:
    return sorted(svc.get("networks") or {}) or ["default"]


def network_label(network: str) -> str:
    return NETWORK_LABEL_PREFIX + dns_name(network, f"networks.{network}")


def expose_ports(svc: dict[str, Any]) -> list[tuple[int, str]]:
    out = []
    for item in svc.get("expose") or []:
        ports, _, proto = str(item).partition("/")
        first, _, last = ports.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue  # refused by the support table
        if not (1 <= lo <= hi <= 65535) or hi - lo >= 1000:
            continue  # refused by the support table
        out += [(p, (proto or "tcp").upper()) for p in range(lo, hi + 1)]
    return out


def _published(svc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for port in svc.get("ports") or []:
        published = str(port.get("published") or "")
        if not published.isdigit():
            continue  # random or ranged host port: refused by the support table
        out.append({"target": port["target"], "published": int(published), "host_ip": port.get("host_ip"),
                    "protocol": port.get("protocol", "tcp")})
    return out


def container_ports(svc: dict[str, Any]) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    for port in svc.get("ports") or []:
        key = (int(port["target"]), str(port.get("protocol", "tcp")).upper())
        if key not in seen:
            seen.append(key)
    for key in expose_ports(svc):
        if key not in seen:
            seen.append(key)
    return seen


def services(name: str, k8s_name: str, svc: dict[str, Any], aliases: list[str], labels: dict[str, str],
             namespace: str) -> list[dict[str, Any]]:
    """The Service named for the compose service (ports, published annotation) and one per alias."""
    ports = [{"name": f"{proto.lower()}-{port}", "port": port, "targetPort": port, "protocol": proto}
             for port, proto in container_ports(svc)]
    out = []
    for i, svc_name in enumerate([k8s_name, *aliases]):
        spec: dict[str, Any] = {"clusterIP": "None", "selector": {LABEL_SERVICE: k8s_name}}
        if ports:
            spec["ports"] = [dict(p) for p in ports]
        meta: dict[str, Any] = {"name": svc_name, "namespace": namespace, "labels": {**labels, LABEL_SERVICE: k8s_name}}
        published = _published(svc)
        if i == 0 and published:
            meta["annotations"] = {PUBLISHED_ANNOTATION: json.dumps(published, sort_keys=True)}
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})
    return out


def network_policies(model: dict[str, Any], k8s_names: dict[str, str], labels: dict[str, str],
                     namespace: str) -> list[dict[str, Any]]:
    used = sorted({net for svc in model["services"].values() for net in service_networks(svc)})
    out = []
    for net in used:
        def selector() -> dict[str, Any]:
            return {"matchLabels": {network_label(net): "true"}}
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": dns_name(f"network-{net}", f"networks.{net}"), "namespace": namespace,
                                 "labels": dict(labels)},
                    "spec": {"podSelector": selector(), "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{"podSelector": selector()}]}]}})
    for name in sorted(model["services"]):
        published = _published(model["services"][name])
        if not published:
            continue
        k8s = k8s_names[name]
        ports = []
        for p in published:
            entry = {"port": p["target"], "protocol": p["protocol"].upper()}
            if entry not in ports:
                ports.append(entry)
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": f"published-{k8s}"[:63].rstrip("-"), "namespace": namespace,
                                 "labels": dict(labels)},
                    "spec": {"podSelector": {"matchLabels": {LABEL_SERVICE: k8s}}, "policyTypes": ["Ingress"],
                             "ingress": [{"ports": ports}]}})
    return out
