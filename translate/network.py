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

Internal networks (`internal: true`) have no way out in Docker. A service whose
networks are all internal gets an egress policy: it may reach the members of
its networks, and DNS (port 53) in the cluster, nothing else. A service that is
also on a non-internal network keeps its way out, as in Docker.
"""

from __future__ import annotations

import json
import re
from typing import Any

from spin_gateway.translate.names import dns_name, metadata
from spin_gateway.vocabulary.labels import LABEL_SERVICE, NETWORK_LABEL_PREFIX, PUBLISHED_ANNOTATION


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
    """(port, PROTOCOL) of ports then expose, first occurrence kept, in order."""
    seen: dict[tuple[int, str], None] = {}
    for port in svc.get("ports") or []:
        seen.setdefault((int(port["target"]), str(port.get("protocol", "tcp")).upper()), None)
    for key in expose_ports(svc):
        seen.setdefault(key, None)
    return list(seen)


def _port_names(svc: dict[str, Any]) -> dict[tuple[int, str], dict[str, str]]:
    """(port, protocol) -> the compose port's own name and app_protocol, where Kubernetes accepts them."""
    out: dict[tuple[int, str], dict[str, str]] = {}
    for port in svc.get("ports") or []:
        key = (int(port["target"]), str(port.get("protocol", "tcp")).upper())
        extra = out.setdefault(key, {})
        name = port.get("name")
        if name and re.match(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$", name) and re.search(r"[a-z]", name):
            extra.setdefault("name", name)
        if port.get("app_protocol"):
            extra.setdefault("appProtocol", port["app_protocol"])
    return out


def services(name: str, k8s_name: str, svc: dict[str, Any], aliases: list[str], labels: dict[str, str],
             namespace: str) -> list[dict[str, Any]]:
    """The Service named for the compose service (ports, published annotation) and one per alias."""
    named = _port_names(svc)
    ports: list[dict[str, Any]] = []
    for port, proto in container_ports(svc):
        extra = named.get((port, proto), {})
        entry: dict[str, Any] = {"name": extra.get("name", f"{proto.lower()}-{port}"), "port": port, "targetPort": port, "protocol": proto}
        if "appProtocol" in extra:
            entry["appProtocol"] = extra["appProtocol"]
        ports.append(entry)
    seen: set[str] = set()
    for entry in ports:  # a compose name used twice keeps the first; the others take the generated one
        if entry["name"] in seen:
            entry["name"] = f"{entry['protocol'].lower()}-{entry['port']}"
        seen.add(entry["name"])
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
        def selector(net: str = net) -> dict[str, Any]:
            return {"matchLabels": {network_label(net): "true"}}
        spec = (model.get("networks") or {}).get(net) or {}
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": metadata(dns_name(f"network-{net}", f"networks.{net}"), namespace, labels,
                                         spec.get("labels")),
                    "spec": {"podSelector": selector(), "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{"podSelector": selector()}]}]}})
    internal = {net for net, spec in (model.get("networks") or {}).items() if (spec or {}).get("internal")}
    for name in sorted(model["services"]):
        nets = service_networks(model["services"][name])
        if internal and all(net in internal for net in nets):
            out.append(_egress_policy(k8s_names[name], nets, labels, namespace))
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


def _egress_policy(k8s: str, nets: list[str], labels: dict[str, str], namespace: str) -> dict[str, Any]:
    peers = [{"podSelector": {"matchLabels": {network_label(net): "true"}}} for net in nets]
    dns = {"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"internal-{k8s}"[:63].rstrip("-"), "namespace": namespace, "labels": dict(labels)},
            "spec": {"podSelector": {"matchLabels": {LABEL_SERVICE: k8s}}, "policyTypes": ["Egress"],
                     "egress": [{"to": peers}, dns]}}
