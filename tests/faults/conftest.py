"""Real faults need real filesystems: a tiny tmpfs to fill, and files made read-only even for root."""

from __future__ import annotations

import os
import subprocess

import pytest


def _root_or_fail(what: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(f"{what} needs root (CI runs the suite as root): run the fault tests as root")


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs: a disk that really fills up."""
    _root_or_fail("mounting a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(directory, leave: int = 0) -> None:
    """Fill the filesystem of `directory`, leaving about `leave` bytes free."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    with open(os.path.join(directory, "filler"), "ab") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave))
            fh.flush()
            os.fsync(fh.fileno())
        except OSError:
            pass


@pytest.fixture
def immutable():
    """chattr +i: a file nobody, root included, may write any more, even through an fd already open."""
    _root_or_fail("chattr +i")
    marked = []

    def mark(path):
        subprocess.run(["chattr", "+i", str(path)], check=True)
        marked.append(path)

    yield mark
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


#: A policy that decides with the real engine but refuses nothing: these tests are about what happens
#: around the decision (forwarding, rollback, audit), not about the site's rules, which change elsewhere.
ALLOW_ALL = """
package spin.admission

deny := set()
patch := []
"""


@pytest.fixture(scope="session")
def allow_all_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("allow-all-rego")
    (folder / "admission.rego").write_text(ALLOW_ALL)
    return folder


@pytest.fixture(scope="session")
def allow_all(allow_all_dir):
    from spin_gateway.policy.service import PolicyService

    service = PolicyService(allow_all_dir)
    yield service
    service.close()
