"""`spin policy bundle`: the rego/ folder and its site data as an OPA bundle, for `--opa-url` mode.

OPA reads site data only from files named data.json/data.yaml, placed by folder:
the site data (rego/site.yaml) goes to spin/config/data.json, so the server sees
it at data.spin.config exactly as the embedded engine does. The manifest carries
the gateway's revision and claims the `spin` root, so the bundle owns nothing else.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from spin_gateway.policy.bundle import PolicyBundle, load_bundle


def bundle_files(bundle: PolicyBundle, *, with_tests: bool = False) -> dict[str, bytes]:
    files = {f"/{path}": source.encode() for path, source in sorted(bundle.modules.items())}
    if with_tests:
        files.update({f"/{path}": source.encode() for path, source in sorted(bundle.tests.items())})
    files["/spin/config/data.json"] = json.dumps(bundle.site, sort_keys=True, default=str).encode()
    files["/.manifest"] = json.dumps({"revision": bundle.revision, "roots": ["spin"]}).encode()
    return files


def write_bundle(policy_dir: str | Path, out: str | Path, site_data: str | Path | None = None, *,
                 with_tests: bool = False) -> PolicyBundle:
    """A bundle.tar.gz for `opa run --server --bundle out` (or a folder if `out` has no .tar.gz)."""
    bundle = load_bundle(policy_dir, site_data)
    files = bundle_files(bundle, with_tests=with_tests)
    out = Path(out)
    if out.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(out, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name.lstrip("/"))
                info.size, info.mode, info.mtime = len(data), 0o644, 0  # the same input gives the same bytes
                tar.addfile(info, io.BytesIO(data))
    else:
        for name, data in files.items():
            target = out / name.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return bundle
