"""Kubernetes' own OpenAPI schema (strict: no unknown field), through the kubernetes-validate package.

kubernetes-validate because it ships the schemas of every Kubernetes release
inside the wheel: it installs from PyPI and validates offline, with no cluster.
Checked against the oldest release whose fields we use (1.30 has appArmorProfile)
and the newest the package knows.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def schema_errors(obj: dict[str, Any]) -> list[str]:
    errors = []
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            # The package prints the whole schema; the first paragraph says what and where.
            errors.append(f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')} (Kubernetes {version}): "
                          f"{str(exc).split(chr(10) + chr(10))[0]} at {list(getattr(exc, 'path', []) or [])}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{obj.get('kind')}: no schema in Kubernetes {version}: {exc}")
    return errors
