"""The labels and annotations spin writes on the objects it makes, named once.

State lives in these labels (who owns a project, which facility project it is
filed under), so the translator that writes them and the backends that read
them back must agree on every key. The Rego library reads some of them too
(rego/ names them as strings; tests/policy checks the two agree).
"""

from __future__ import annotations

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_SPIN = "spin"
LABEL_PROJECT = "spin.io/project"
LABEL_OWNER = "spin.io/owner"
LABEL_FACILITY_PROJECT = "spin.io/facility-project"
LABEL_SERVICE = "spin.io/service"
#: network.spin.io/<network>: "true" on every pod of a compose network (the NetworkPolicy selects on it).
NETWORK_LABEL_PREFIX = "network.spin.io/"

#: Annotations the translator writes for what Kubernetes has no field for.
ANNOTATION_HASH = "spin.io/spec-hash"
PUBLISHED_ANNOTATION = "spin.io/published"
DEPENDS_ANNOTATION = "spin.io/depends-on"
READINESS_ANNOTATION = "spin.io/readiness"
#: The facility user a gateway call is made for, on every object the gateway writes. The admission webhook
#: believes it only from the gateway's own Kubernetes identity (docs/kubernetes.md, "Admission webhook").
REQUESTED_BY_ANNOTATION = "spin.io/requested-by"

#: Labels only the podman backend puts on what it creates (pods, volumes, networks, files).
LABEL_KIND = "spin.io/kind"
LABEL_NAME = "spin.io/name"
LABEL_GRACE = "spin.io/grace-seconds"
#: Which of a workload's replicas a pod is (1..N), and how many the decision asked for.
LABEL_REPLICA = "spin.io/replica"
LABEL_REPLICAS = "spin.io/replicas"
#: The compose network a podman network stands for.
LABEL_NETWORK = "spin.io/network"

#: On the project Leases (backends/leases.py): the project namespace a Lease locks, and the journal of the
#: operation that holds it.
LABEL_LOCKED_NAMESPACE = "spin.io/project-namespace"
JOURNAL_ANNOTATION = "spin.io/operation-in-progress"


def project_labels(project: str, owner: str, facility_project: str) -> dict[str, str]:
    """The labels every object of a project carries."""
    return {LABEL_MANAGED_BY: MANAGED_BY_SPIN, LABEL_PROJECT: project, LABEL_OWNER: owner,
            LABEL_FACILITY_PROJECT: facility_project}
