"""`spin policy eval`: decide Kubernetes objects from a file as a given user, with no gateway."""

from __future__ import annotations

from pathlib import Path

import yaml

from spin_gateway.policy.decide import decide_call
from spin_gateway.policy.service import EngineFactory, PolicyService, factory_for
from spin_gateway.vocabulary.errors import UsageError
from spin_gateway.vocabulary.facility import facility_project_for
from spin_gateway.vocabulary.types import Call, Decision, Identity, Plan

#: A folder is read one level deep, these files only (what `spin convert -o DIR` writes), at most this many.
_OBJECT_SUFFIXES = (".yaml", ".yml", ".json")
MAX_OBJECT_FILES = 2000


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key repeated in one mapping. PyYAML keeps the last silently, so two objects written one after
    the other without `---` read as one object: only the last would be decided."""


def _no_repeated_keys(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping (first on line {seen[key] + 1}); two objects "
                "run together without a `---` line between them?", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_repeated_keys)


def object_files(path: str | Path) -> list[Path]:
    """The file itself, or a folder's .yaml/.yml/.json files in name order (hidden files left out)."""
    given = Path(path)
    if not given.is_dir():
        return [given]
    files = sorted(p for p in given.iterdir() if p.suffix in _OBJECT_SUFFIXES and not p.name.startswith(".")
                   and p.is_file())
    if not files:
        raise UsageError(f"{given} holds no .yaml, .yml or .json files", hint="Pass a file of objects, or the folder "
                         "`spin convert -o DIR` wrote.")
    if len(files) > MAX_OBJECT_FILES:
        raise UsageError(f"{given} holds more than {MAX_OBJECT_FILES} object files")
    return files


def read_objects(path: str | Path) -> list[dict]:
    """Every Kubernetes object of a file (documents split by `---`, `kind: List` items) or of a folder's files."""
    objects: list[dict] = []
    for file in object_files(path):
        try:
            docs = [d for d in yaml.load_all(file.read_text(encoding="utf-8"), Loader=_StrictLoader) if d]
        except yaml.MarkedYAMLError as exc:
            where = f", line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
            raise UsageError(f"{file}{where}: cannot read Kubernetes objects: {exc.problem or exc.context}",
                             hint="Separate objects with a line holding only `---`.") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UsageError(f"{file}: cannot read Kubernetes objects: {exc}",
                             hint="Separate objects with a line holding only `---`.") from None
        for n, doc in enumerate(docs, 1):
            if isinstance(doc, dict) and doc.get("kind") == "List":
                objects.extend(doc.get("items") or [])
            elif isinstance(doc, dict) and doc.get("kind"):
                objects.append(doc)
            else:
                raise UsageError(f"{file}: document {n} is not a Kubernetes object with a kind",
                                 hint="Each document (separated by `---`) must be one object: apiVersion, kind, metadata.")
    if not objects:
        raise UsageError(f"{path}: no Kubernetes objects to decide")
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
