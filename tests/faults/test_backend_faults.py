"""A backend that fails part-way through `up`: a new project is removed again, an existing one is completed
by the next `up`; either way running `up` again converges to exactly what a clean `up` makes."""

from __future__ import annotations

import pytest

from spin_gateway.audit.log import AuditLog, read_records
from spin_gateway.audit.verify import verify
from spin_gateway.backends.manifests import ManifestsBackend
from spin_gateway.interceptor.intercept import intercept
from spin_gateway.vocabulary.errors import ForwardError
from tests.faults.faults import FailOnNthDelete, FailOnNthWrite
from tests.faults.plans import ALICE, ctx, plan, project_objects

NS = "demo"
CALLS = 1 + len(project_objects(NS))  # the namespace, then the project's objects


def files(root):
    folder = root / NS
    return {p.name: p.read_text() for p in sorted(folder.glob("*"))} if folder.is_dir() else {}


@pytest.fixture
def audit(tmp_path):
    log = AuditLog(tmp_path / "audit.log", key=b"k" * 32)
    yield log
    log.close()


@pytest.fixture
def reference(tmp_path, allow_all, audit):
    """What a clean `up` of each version leaves: the state every retry must converge to."""
    def make(version: str):
        out = tmp_path / f"clean-{version}"
        intercept(plan(NS, project_objects(NS, version)), ALICE, allow_all, audit, ManifestsBackend(out),
                  ctx("clean"), dry_run=False)
        return files(out)
    return make


@pytest.mark.parametrize("n", range(1, CALLS + 1))
def test_a_new_project_that_fails_on_call_n_is_removed_and_the_next_up_converges(tmp_path, allow_all, audit,
                                                                                 reference, n):
    out = tmp_path / "out"
    failing = FailOnNthWrite(ManifestsBackend(out), n)
    with pytest.raises(ForwardError) as info:
        intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, failing, ctx("req-fail"), dry_run=False)
    assert failing.writes == n  # the fault really came part-way, after n-1 objects were written
    assert "No space left on device" in info.value.message
    assert "everything this `up` had created was removed again" in info.value.message
    assert info.value.details["rolled_back"] is True
    assert files(out) == {}, "a half project was left behind"

    records = [r for r in read_records(audit.path) if r.get("request_id") == "req-fail"]
    assert [r["type"] for r in records[:CALLS]] == ["decision"] * CALLS
    failed = [r for r in records if r["type"] == "forward" and r["operation"] == "up"]
    assert len(failed) == 1 and failed[0]["backend_result"] == "failed" and failed[0]["error"] == "ForwardError"
    undone = [r for r in records if r["operation"] == "rollback"]
    assert undone and all(r["backend_result"] in {"deleted", "absent"} for r in undone)
    assert verify(audit.path, key=b"k" * 32).ok

    outcome = intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, ManifestsBackend(out), ctx("req-again"),
                        dry_run=False)
    assert outcome.forwarded and files(out) == reference("1")
    again = intercept(plan(NS, project_objects(NS), existing={("Namespace", NS)}), ALICE, allow_all, audit,
                      ManifestsBackend(out), ctx("req-third"), dry_run=False)
    assert {r.action for r in again.results} == {"unchanged"}


@pytest.mark.parametrize("n", [1, 2, 3])  # version 2 changes the ConfigMap and both workloads: three writes
def test_an_update_that_fails_on_call_n_is_completed_by_the_next_up(tmp_path, allow_all, audit, reference, n):
    out = tmp_path / "out"
    intercept(plan(NS, project_objects(NS, "1")), ALICE, allow_all, audit, ManifestsBackend(out), ctx("v1"),
              dry_run=False)
    existing = ManifestsBackend(out).existing_objects
    from spin_gateway.backends.base import ProjectRef

    have = existing(ProjectRef(NS, NS))
    failing = FailOnNthWrite(ManifestsBackend(out), n)
    with pytest.raises(ForwardError) as info:
        intercept(plan(NS, project_objects(NS, "2"), have), ALICE, allow_all, audit, failing, ctx("v2-fail"),
                  dry_run=False)
    assert failing.writes == n
    assert "run `spin up` again to complete it" in info.value.message
    assert info.value.details["rolled_back"] is False
    left = files(out)
    # Nothing of the project was removed: every object is there, each at version 1 or 2.
    assert set(left) == set(reference("1"))
    assert not [r for r in read_records(audit.path) if r.get("operation") == "rollback"]

    outcome = intercept(plan(NS, project_objects(NS, "2"), have), ALICE, allow_all, audit, ManifestsBackend(out),
                        ctx("v2-again"), dry_run=False)
    assert outcome.forwarded and files(out) == reference("2")
    assert verify(audit.path, key=b"k" * 32).ok


def test_a_down_that_fails_part_way_is_finished_by_the_next_down(tmp_path, allow_all, audit):
    from spin_gateway.backends.base import ProjectRef
    from spin_gateway.gateway_api import planning

    out = tmp_path / "out"
    intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, ManifestsBackend(out), ctx("up"), dry_run=False)
    have = ManifestsBackend(out).existing_objects(ProjectRef(NS, NS))

    def down_plan():
        return planning.down_plan(have, project=NS, namespace=NS, owner="alice", facility_project="astro")

    failing = FailOnNthDelete(ManifestsBackend(out), 3)
    with pytest.raises(ForwardError) as info:  # an OSError the backend did not wrap becomes a ForwardError
        intercept(down_plan(), ALICE, allow_all, audit, failing, ctx("down-fail", "down"), dry_run=False,
                  volumes=True)
    assert "Input/output error" in info.value.message and "run `spin down` again" in info.value.message
    assert 0 < len(files(out)) < CALLS
    failed = [r for r in read_records(audit.path) if r.get("request_id") == "down-fail" and r["type"] == "forward"]
    assert [r["backend_result"] for r in failed] == ["failed"]
    intercept(down_plan(), ALICE, allow_all, audit, ManifestsBackend(out), ctx("down-again", "down"), dry_run=False,
              volumes=True)
    assert files(out) == {}


def test_a_rollback_that_fails_too_says_so_and_what_to_do(tmp_path, allow_all, audit):
    class FailsBothWays(FailOnNthWrite):
        def delete(self, ref, calls, volumes):
            return FailOnNthDelete(self.inner, 1).delete(ref, calls, volumes)

    out = tmp_path / "out"
    with pytest.raises(ForwardError) as info:
        intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, FailsBothWays(ManifestsBackend(out), 3),
                  ctx("both"), dry_run=False)
    assert "removing what this `up` created failed too" in info.value.message
    assert "run `spin up` again (it converges) or `spin down`" in info.value.message
    assert info.value.details["rolled_back"] is False
    failed = [r for r in read_records(audit.path) if r.get("request_id") == "both" and r.get("backend_result") == "failed"]
    assert [r["operation"] for r in failed] == ["up", "rollback"]
    intercept(plan(NS, project_objects(NS)), ALICE, allow_all, audit, ManifestsBackend(out), ctx("fixed"),
              dry_run=False)
    assert len(files(out)) == CALLS
