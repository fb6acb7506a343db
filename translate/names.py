"""Compose names made into Kubernetes names: deterministic, and never two into one.

Compose allows names Kubernetes does not (`My_DB`, `web.1`, a trailing `-`).
The rule is fixed and simple so a user can predict it: lowercase, every
character outside [a-z0-9-] becomes `-`, runs of `-` collapse, `-` trimmed at
both ends, cut to 63. Services (and so their workloads) must also start with a
letter: a leading digit gets `svc-` in front. Two compose names that become the same Kubernetes name
are an error: a silent merge would join two services into one.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from spin_gateway.vocabulary.errors import TranslateError

_OTHER = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: A label value: empty, or alphanumerics at both ends with `-_.` between, at most 63.
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@functools.lru_cache(maxsize=4096)
def dns_label(name: str) -> str:
    """The DNS-1123 label a compose name becomes (may be '' when nothing is left)."""
    out = _DASHES.sub("-", _OTHER.sub("-", name.lower())).strip("-")
    return out[:63].rstrip("-")


def dns_name(name: str, where: str) -> str:
    """dns_label, or a TranslateError naming the place when nothing usable is left."""
    out = dns_label(name)
    if not out:
        raise TranslateError(f"{where}: the name {name!r} has no letters or digits to make a Kubernetes name from",
                             hint="Rename it with letters and digits.")
    return out


def service_label(name: str) -> str:
    """A DNS-1035 label, as Service names must be: a leading digit gets `svc-` in front (`3d-viewer` -> `svc-3d-viewer`)."""
    out = dns_label(name)
    if out and out[0].isdigit():
        out = ("svc-" + out)[:63].rstrip("-")
    return out


def is_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return bool(_LABEL_NAME.match(name))


def is_label_value(value: str) -> bool:
    return bool(LABEL_VALUE.match(value))


class NameTable:
    """Compose names of one kind to Kubernetes names, refusing two that meet after conversion."""

    def __init__(self, what: str, convert=dns_label):
        self.what = what
        self.convert = convert
        self._by_k8s: dict[str, str] = {}

    def add(self, name: str, where: str | None = None) -> str:
        k8s = self.convert(name)
        if not k8s:
            dns_name(name, where or f"{self.what} {name!r}")  # raises, naming the place
        other = self._by_k8s.get(k8s)
        if other is not None and other != name:
            raise TranslateError(
                f"{where or self.what}: {self.what} {other!r} and {name!r} both become the Kubernetes name {k8s!r}",
                hint="Rename one of them: Kubernetes names are lowercase letters, digits and '-'.")
        self._by_k8s[k8s] = name
        return k8s


def split_labels(labels: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) of compose labels (a mapping, or KEY=VALUE items): one that is not a valid
    Kubernetes label value is kept as an annotation. Keys under spin.io/ and keys no Kubernetes metadata
    accepts are left out here; the support table refuses them by name."""
    if isinstance(labels, list):
        labels = dict(item.partition("=")[::2] for item in labels)
    good, other = {}, {}
    for key, value in (labels or {}).items():
        if key.startswith("spin.io/") or not is_label_key(key):
            continue
        if is_label_value(value or ""):
            good[key] = value or ""
        else:
            other[key] = value
    return good, other


def metadata(name: str, namespace: str, labels: dict[str, str], compose_labels: Any = None) -> dict[str, Any]:
    """Object metadata: the gateway's labels over the compose object's own (annotations where not label values)."""
    good, other = split_labels(compose_labels)
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {**good, **labels}}
    if other:
        meta["annotations"] = other
    return meta
