#!/usr/bin/env python3
"""Print the spin-policies ConfigMap (every Rego module of rego/ and the site data) as YAML.

    python examples/kubernetes/make-configmaps.py [--policy-dir rego] [--site-data rego/site.yaml] | kubectl apply -f -

ConfigMap keys cannot hold '/', so rego/uid_mapping/policy.rego becomes the key
uid_mapping.policy.rego; the gateway loads every *.rego of the folder whatever
its name (the package is inside the file). Policy tests (*_test.rego) stay out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def policies_configmap(policy_dir: Path, site_data: Path | None, namespace: str = "spin-system") -> dict:
    data = {}
    for path in sorted(policy_dir.rglob("*.rego")):
        if path.name.endswith("_test.rego"):
            continue
        data[path.relative_to(policy_dir).as_posix().replace("/", ".")] = path.read_text()
    site = site_data or policy_dir / "site.yaml"
    if site.is_file():
        data["site.yaml"] = site.read_text()
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "spin-policies", "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": "spin-gateway"}},
            "data": data}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy-dir", type=Path, default=Path("rego"))
    parser.add_argument("--site-data", type=Path, default=None)
    parser.add_argument("--namespace", default="spin-system")
    args = parser.parse_args()
    if not args.policy_dir.is_dir():
        sys.exit(f"{args.policy_dir}: no such folder; pass --policy-dir pointing at your rego/ folder")
    yaml.safe_dump(policies_configmap(args.policy_dir, args.site_data, args.namespace), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
