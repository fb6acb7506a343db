"""The object store beside the audit log, written by many threads of one replica at once."""

from __future__ import annotations

import concurrent.futures

from spin_gateway.audit.objects import ObjectStore


def test_many_threads_storing_the_same_object_all_succeed(tmp_path):
    """A job array's identical `up`s reach one replica together: each stores the same model. Before the fix
    their temporary files had one name per process, and one thread's rename took another's file away."""
    store = ObjectStore(tmp_path / "objects")
    model = {"name": "burst", "services": {"job": {"image": "localhost/spin/busybox:1.35"}}}
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        digests = set(pool.map(lambda _: store.put(model), range(200)))
    assert len(digests) == 1
    assert store.get(digests.pop()) == model
    assert not list((tmp_path / "objects").rglob("*.tmp")), "temporary files left behind"
