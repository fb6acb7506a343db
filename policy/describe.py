"""`spin policy describe`: every rule package's meta from the loaded bundle, with its samples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from spin_gateway.policy.bundle import load_bundle
from spin_gateway.policy.samples import samples_of
from spin_gateway.vocabulary.errors import PolicyError

_RULE_PACKAGE = re.compile(r"^\s*package\s+spin\.rules\.([\w.]+)", re.M)


def rule_packages(modules: dict[str, str]) -> dict[str, str]:
    """package name under spin.rules -> the module file (relative to the policy folder) that declares it."""
    found: dict[str, str] = {}
    for file, source in sorted(modules.items()):
        m = _RULE_PACKAGE.search(source)
        if m:
            found.setdefault(m.group(1), file)
    return found


def pod_security_profile(site: dict[str, Any]) -> str:
    """The Pod Security profile the site enforces (h-pss owns the key's meaning; "baseline" by default)."""
    value = site.get("pod_security", "baseline")
    if isinstance(value, dict):
        value = value.get("enforce") or value.get("profile") or "baseline"
    return str(value)


def describe(policy_dir: str | Path, site_data: str | Path | None = None) -> dict[str, Any]:
    from spin_gateway.policy.embedded import EmbeddedEngine

    bundle = load_bundle(policy_dir, site_data)
    engine = EmbeddedEngine(bundle, pool_size=1)
    rules = []
    try:
        for package, file in rule_packages(bundle.modules).items():
            try:
                meta = engine.document(f"spin.rules.{package}.meta") or {}
            except PolicyError:
                meta = {}
            rule_dir = Path(policy_dir) / Path(file).parent
            rules.append({
                "id": meta.get("id", package.replace("_", "-")),
                "title": meta.get("title", ""),
                "profile": meta.get("profile", ""),
                "description": meta.get("description", "") or "(no meta: this package does not describe itself)",
                "package": f"spin.rules.{package}",
                "file": file,
                "samples": [{"file": s.path.relative_to(Path(policy_dir)).as_posix(), "expect": s.expect, "as": s.as_given}
                            for s in samples_of(rule_dir)],
            })
    finally:
        engine.close()
    return {"revision": bundle.revision, "pod_security": pod_security_profile(bundle.site),
            "rules": sorted(rules, key=lambda r: r["id"])}
