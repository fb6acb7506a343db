"""Reads the rego/ folder and the site data into one immutable bundle with a revision.

The revision is a digest of every module, test and the site data, so an audit
record names exactly which policy decided, and a reload that changes nothing
is recognised as such.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spin_gateway.vocabulary.errors import PolicyLoadError

#: The document every engine evaluates; see ../shared/ARCHITECTURE.md.
DECISION_PATH = "spin.admission"
MAX_MODULE_BYTES = 1 << 20


@dataclass(frozen=True)
class PolicyBundle:
    root: str
    modules: dict[str, str]  # path relative to root -> Rego source (no tests)
    tests: dict[str, str]  # *_test.rego files
    site: dict[str, Any]  # site data, exposed to Rego as data.spin.config
    revision: str

    @property
    def data(self) -> dict[str, Any]:
        return {"spin": {"config": self.site}}


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_MODULE_BYTES:
        raise PolicyLoadError(f"{path}: larger than {MAX_MODULE_BYTES} bytes", hint="Split the module.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(f"{path}: not UTF-8 ({exc.reason})") from None


def load_site_data(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PolicyLoadError(f"{path}: site data must be a mapping, found {type(raw).__name__}")
    return raw


def load_bundle(policy_dir: str | Path, site_data: str | Path | None = None) -> PolicyBundle:
    """Every *.rego under policy_dir; site data from site_data or policy_dir/site.yaml."""
    root = Path(policy_dir)
    if not root.is_dir():
        raise PolicyLoadError(f"policy folder {root} does not exist", hint="Pass --policy-dir pointing at a rego/ folder.")
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    for path in sorted(root.rglob("*.rego")):
        rel = path.relative_to(root).as_posix()
        (tests if path.name.endswith("_test.rego") else modules)[rel] = _read(path)
    if not modules:
        raise PolicyLoadError(f"policy folder {root} holds no .rego modules")
    site_path = Path(site_data) if site_data else root / "site.yaml"
    site = load_site_data(site_path) if site_path.exists() else {}
    if site_data and not site_path.exists():
        raise PolicyLoadError(f"site data {site_path} does not exist")
    digest = hashlib.sha256()
    for name, src in sorted({**modules, **tests}.items()):
        digest.update(name.encode() + b"\0" + src.encode() + b"\0")
    digest.update(json.dumps(site, sort_keys=True, default=str).encode())
    return PolicyBundle(str(root), modules, tests, site, digest.hexdigest()[:16])
