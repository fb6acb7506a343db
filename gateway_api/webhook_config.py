"""The Validating- and MutatingWebhookConfiguration that put the cluster's API server in front of the gateway's
admission routes (`spin gateway webhook-config`; examples/kubernetes/webhook.yaml is its output).

Fail closed: failurePolicy Fail (a gateway that does not answer refuses the call), a timeout below the API
server's own, sideEffects None (dry runs are decided too), reinvocationPolicy IfNeeded (when another mutating
webhook changes the object after ours, ours runs again, so the validating pass sees the object as the
policy would have it). The namespace selector leaves out the system namespaces and the gateway's own: the
cluster and the gateway keep running when the gateway is down.
"""

from __future__ import annotations

import copy
from typing import Any

from spin_gateway.vocabulary.errors import UsageError

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
#: The API server waits at most 30 s for a webhook; its own requests time out after 60 s.
MAX_TIMEOUT = 30
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace


def _rules() -> list[dict[str, Any]]:
    return [
        # Everything in a namespace: a kind the policy does not know is refused by it (the kinds rule).
        {"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"],
         "scope": "Namespaced"},
        # Namespaces themselves (matched by their own labels): a project's namespace is decided like any call.
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["namespaces"], "operations": ["CREATE", "UPDATE", "DELETE"],
         "scope": "Cluster"},
    ]


def webhook_configurations(url: str, ca_bundle: bytes, *, name: str = "spin", timeout: int = 5,
                           gateway_namespace: str = "spin-system", exclude: tuple[str, ...] = (),
                           match_labels: dict[str, str] | None = None,
                           match_expressions: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Both configurations for the gateway at `url` (its https base address) whose certificate `ca_bundle` signs."""
    import base64

    base = url.rstrip("/")
    for suffix in ("/v1/admission/validate", "/v1/admission/mutate"):
        base = base.removesuffix(suffix)
    if not base.startswith("https://"):
        raise UsageError(f"--url {url!r} is not an https:// address",
                         hint="The API server calls webhooks over TLS only; serve the gateway with --tls-cert/--tls-key.")
    if not 1 <= timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout {timeout} is outside 1..{MAX_TIMEOUT} seconds")
    if b"BEGIN CERTIFICATE" not in ca_bundle:
        raise UsageError("--ca-bundle holds no PEM certificate", hint="Pass the CA that signed the gateway's --tls-cert.")
    left_out = sorted({*SYSTEM_NAMESPACES, gateway_namespace, *exclude} - {""})
    selector: dict[str, Any] = {"matchExpressions": [
        {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": left_out}, *(match_expressions or [])]}
    if match_labels:
        selector["matchLabels"] = dict(match_labels)
    common = {
        "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail", "matchPolicy": "Equivalent",
        "timeoutSeconds": timeout, "namespaceSelector": selector, "rules": _rules(),
    }
    ca = base64.b64encode(ca_bundle).decode()
    labels = {"app.kubernetes.io/name": "spin-gateway", "app.kubernetes.io/component": "admission"}

    def hook(phase: str) -> dict[str, Any]:
        return {"name": f"{phase}.{name}.admission.spin.io",
                "clientConfig": {"url": f"{base}/v1/admission/{phase}", "caBundle": ca},
                **copy.deepcopy(common), "rules": _rules()}

    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": f"{name}-admission", "labels": labels},
         "webhooks": [{**hook("mutate"), "reinvocationPolicy": "IfNeeded"}]},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": f"{name}-admission", "labels": labels},
         "webhooks": [hook("validate")]},
    ]
