"""Kubernetes' own OpenAPI schema (strict: no unknown field), through the kubernetes-validate package.

kubernetes-validate because it ships the schemas of every Kubernetes release
inside the wheel: it installs from PyPI and validates offline, with no cluster.
Checked against the oldest release whose fields we use (1.30 has appArmorProfile)
and the newest the package knows.

The package's validate() parses the schema files (the definitions file is
megabytes) on every call; the same schemas are used here through one cached
jsonschema validator per kind and release, which makes checking every test's
objects affordable. Results are the same: the files, the draft and the registry
are the package's.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils
from referencing import Registry, Resource

VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    release = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    folder = f"kubernetes-json-schema/v{release}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        return None
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def schema_errors(obj: dict[str, Any]) -> list[str]:
    errors = []
    for version in VERSIONS:
        what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')} (Kubernetes {version})"
        validator = _validator(version, obj.get("kind", ""), obj.get("apiVersion", ""))
        if validator is None:
            errors.append(f"{what}: no schema for {obj.get('apiVersion')} {obj.get('kind')}")
            continue
        for error in validator.iter_errors(obj):
            errors.append(f"{what}: {error.message} at {'/'.join(map(str, error.absolute_path))}")
    return errors
