"""Reads the rego/ folder and the site data into one immutable bundle with a revision.

The revision is a digest of every module, test and the site data, so an audit
record names exactly which policy decided, and a reload that changes nothing
is recognised as such.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import time
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


def _decode(path: Path | str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(f"{path}: not UTF-8 ({exc.reason})") from None


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_MODULE_BYTES:
        raise PolicyLoadError(f"{path}: larger than {MAX_MODULE_BYTES} bytes", hint="Split the module.")
    return _decode(path, path.read_bytes())


def _parse_site(path: Path | str, text: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PolicyLoadError(f"{path}: site data must be a mapping, found {type(raw).__name__}")
    return raw


def load_site_data(path: Path) -> dict[str, Any]:
    return _parse_site(path, _read(path))


# -- the folder as one snapshot ------------------------------------------------------------------
# A reload must never decide with a folder caught half-way through a change (an editor's save, a copy in
# progress, several files updated one after the other) nor read anything from outside it. So: regular
# files only, opened without following links, the whole set read twice and compared, and a folder that
# anyone on the machine may write is refused. Names starting with "." are left out (editors' swap and lock
# files, the temporary files of a copy that is moved into place).

#: How many files a policy folder may hold, and how often a changing folder is read again before giving up.
MAX_FILES = 2000
STABLE_READS = 5
_DATA_SUFFIXES = (".rego", ".yaml", ".yml", ".json")
_LINK_HINT = ("The policy folder holds regular files only: copy the file in instead of linking it "
              "(the folder itself may be a link, e.g. kubelet's ..data).")


def _open_regular(path: Path, shown: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PolicyLoadError(f"{shown} is a symbolic link", hint=_LINK_HINT) from None
        raise PolicyLoadError(f"{shown} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise PolicyLoadError(f"{shown} is not a regular file", hint=_LINK_HINT)
        if st.st_mode & stat.S_IWOTH:
            raise PolicyLoadError(f"{shown} may be written by anyone on this machine (mode {stat.filemode(st.st_mode)})",
                                  hint="chmod o-w it: scripts/install.sh sets the policy folder root-owned, 0755/0644.")
        if st.st_size > MAX_MODULE_BYTES:
            raise PolicyLoadError(f"{shown}: larger than {MAX_MODULE_BYTES} bytes", hint="Split the module.")
        return fh.read(MAX_MODULE_BYTES + 1)


def _read_tree(root: Path) -> dict[str, bytes]:
    """Every .rego (and the folder's site.yaml) under root: relative path -> bytes."""
    out: dict[str, bytes] = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        st = os.lstat(folder)
        if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
            raise PolicyLoadError(f"policy folder {folder} may be written by anyone on this machine "
                                  f"(mode {stat.filemode(st.st_mode)})",
                                  hint="chmod o-w it: scripts/install.sh sets the policy folder root-owned, 0755.")
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                rel = path.relative_to(root).as_posix()
                shown = f"{root}/{rel}"
                if entry.is_symlink():
                    if entry.name.endswith(_DATA_SUFFIXES) or path.is_dir():
                        target = os.readlink(path)
                        raise PolicyLoadError(f"{shown} is a symbolic link (to {target})", hint=_LINK_HINT)
                    continue  # a linked README or picture is never read
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif entry.name.endswith(".rego") or rel == "site.yaml":
                    out[rel] = _open_regular(path, shown)
                    if len(out) > MAX_FILES:
                        raise PolicyLoadError(f"policy folder {root} holds more than {MAX_FILES} files")
    return out


def _snapshot(root: Path, site_path: Path | None) -> tuple[dict[str, bytes], bytes | None]:
    """The folder's files and the site data, the same in two reads one after the other."""
    for _attempt in range(STABLE_READS):
        first = _read_tree(root), (_open_regular(site_path, str(site_path)) if site_path else None)
        second = _read_tree(root), (_open_regular(site_path, str(site_path)) if site_path else None)
        if first == second:
            return first
        time.sleep(0.1)
    raise PolicyLoadError(f"policy folder {root} kept changing while it was read ({STABLE_READS} tries)",
                          hint="Write the new revision elsewhere and move it into place in one step (docs/security-officer.md).")


def load_bundle(policy_dir: str | Path, site_data: str | Path | None = None) -> PolicyBundle:
    """Every *.rego under policy_dir; site data from site_data or policy_dir/site.yaml, read as one snapshot."""
    given = Path(policy_dir)
    if not given.is_dir():
        raise PolicyLoadError(f"policy folder {given} does not exist", hint="Pass --policy-dir pointing at a rego/ folder.")
    # The folder named may itself be a link (kubelet's ..data, a release symlink swapped in one rename): it is
    # resolved once, so the whole snapshot comes from one target even if the link moves meanwhile.
    root = Path(os.path.realpath(given))
    site_path = None
    if site_data:
        site_path = Path(os.path.realpath(site_data))
        if not site_path.exists():
            raise PolicyLoadError(f"site data {site_data} does not exist")
    files, site_raw = _snapshot(root, site_path)
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    for rel, raw in sorted(files.items()):
        if rel.endswith(".rego"):
            (tests if rel.endswith("_test.rego") else modules)[rel] = _decode(f"{given}/{rel}", raw)
    if not modules:
        raise PolicyLoadError(f"policy folder {given} holds no .rego modules")
    if site_path is not None and site_raw is not None:
        site = _parse_site(site_data or site_path, _decode(site_path, site_raw))
    else:
        site = _parse_site(given / "site.yaml", _decode(given / "site.yaml", files["site.yaml"])) if "site.yaml" in files else {}
    digest = hashlib.sha256()
    for name, src in sorted({**modules, **tests}.items()):
        digest.update(name.encode() + b"\0" + src.encode() + b"\0")
    digest.update(json.dumps(site, sort_keys=True, default=str).encode())
    return PolicyBundle(str(given), modules, tests, site, digest.hexdigest()[:16])
