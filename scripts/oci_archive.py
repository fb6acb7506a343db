#!/usr/bin/env python3
"""Pack one static binary as a single-layer OCI image archive that `ctr images import` reads.

No registry is reachable here, so the pause image is made from Kubernetes' own
pause.c; this writes the OCI layout (oci-layout, index.json naming the image
with io.containerd.image.name, blobs/sha256/...) as one tar.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _tar_bytes(files: dict[str, tuple[bytes, int]], gz: bool = False) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    # mtime=0 keeps the digest the same for the same binary.
    return gzip.compress(data, mtime=0) if gz else data


def archive(binary: Path, entrypoint: str, name: str, out: Path, user: str | None = None) -> None:
    layer_tar = _tar_bytes({entrypoint.lstrip("/"): (binary.read_bytes(), 0o755)})
    layer = gzip.compress(layer_tar, mtime=0)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": [entrypoint], **({"User": user} if user else {})},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(layer)}],
    }, sort_keys=True).encode()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **blob(manifest),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
    }]}
    files = {"oci-layout": (b'{"imageLayoutVersion":"1.0.0"}', 0o644),
             "index.json": (json.dumps(index, sort_keys=True).encode(), 0o644)}
    for digest, data in blobs.items():
        files[f"blobs/sha256/{digest.split(':', 1)[1]}"] = (data, 0o644)
    out.write_bytes(_tar_bytes(files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--entrypoint", required=True, help="path of the binary inside the image, e.g. /pause")
    parser.add_argument("--name", required=True, help="image name, e.g. registry.k8s.io/pause:3.10.1")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--user", help="uid:gid the image runs as (pause runs as 65535:65535)")
    args = parser.parse_args()
    archive(args.binary, args.entrypoint, args.name, args.out, args.user)


if __name__ == "__main__":
    main()
