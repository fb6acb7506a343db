"""`spin policy eval`: decide Kubernetes objects from a file as a given user, with no gateway."""

from __future__ import annotations

from pathlib import Path

import yaml

from spin_gateway.policy.decide import decide_call
from spin_gateway.policy.service import EngineFactory, PolicyService, factory_for
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.facility import facility_project_for
from spin_gateway.vocabulary.types import Call, Decision, Identity, Plan


def read_objects(path: str | Path) -> list[dict]:
    try:
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read Kubernetes objects: {exc}") from None
    objects: list[dict] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objects.extend(doc.get("items") or [])
        elif isinstance(doc, dict) and doc.get("kind"):
            objects.append(doc)
        else:
            raise UsageError(f"{path}: every document must be a Kubernetes object with a kind")
    return objects


def evaluate_objects(path: str | Path, identity: Identity, policy_dir: str | Path,
                     site_data: str | Path | None = None, *, project: str = "policy-eval",
                     facility_project: str | None = None, opa_url: str | None = None,
                     factory: EngineFactory | None = None) -> list[Decision]:
    policy = PolicyService(policy_dir, site_data, factory=factory or factory_for(opa_url))
    try:
        return decide_objects(read_objects(path), identity, policy, project=project, facility_project=facility_project)
    finally:
        policy.close()


def decide_objects(objects: list[dict], identity: Identity, policy: PolicyService, *, project: str = "policy-eval",
                   facility_project: str | None = None) -> list[Decision]:
    """Each object decided as one project's, as the interceptor would (patches applied, decided again)."""
    calls = [Call(id=f"{i:03d}", operation="CREATE", object=o) for i, o in enumerate(objects)]
    namespace = namespace_of(objects, project)
    plan = Plan(project=project if namespace == project else namespace, namespace=namespace, owner=identity.name,
                facility_project=facility_project_for(identity, facility_project), calls=calls)
    return [decide_call(c, identity, plan, policy, dry_run=True).decision for c in calls]


def namespace_of(objects: list[dict], default: str) -> str:
    """The namespace the objects go into, as one project's: the first one named, or a Namespace object's name."""
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "Namespace" and meta.get("name"):
            return meta["name"]
        if meta.get("namespace"):
            return meta["namespace"]
    return default


def summarise(decisions: list[Decision]) -> dict:
    """What `spin policy eval --json` prints: one answer for all the objects, then each object's decision."""
    return {
        "allowed": all(d.allowed for d in decisions),
        "violations": [v.model_dump() for d in decisions for v in d.violations],
        "patches": [p for d in decisions for p in d.patches],
        "warnings": [w for d in decisions for w in d.warnings],
        "revision": decisions[0].revision if decisions else "",
        "decisions": [d.model_dump() for d in decisions],
    }
