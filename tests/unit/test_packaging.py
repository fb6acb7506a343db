"""The wheel installs one import name, spin_gateway, and every module of the tree under it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folders() -> dict[str, Path]:
    """Each installed package name and the folder it comes from, subpackages included."""
    out = {}
    for name, folder in CONFIG["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            out[".".join([name, *rel.parts])] = init.parent
    return out


def test_every_package_folder_is_listed_for_the_wheel():
    # setuptools copies only the listed packages: a subpackage left off installs nothing, and `spin` breaks
    # on a machine without the checkout, while every test run from the checkout still passes.
    assert sorted(CONFIG["packages"]) == sorted(_folders())


def test_the_wheel_holds_every_module_under_spin_gateway_and_no_generic_name(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("spin_gateway-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"spin_gateway"}
    expected = {f"{pkg.replace('.', '/')}/{py.name}" for pkg, folder in _folders().items() for py in folder.glob("*.py")}
    assert expected - names == set()
