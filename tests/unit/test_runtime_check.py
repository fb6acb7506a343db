"""The backend-neutral comparison of a decided pod spec with what a backend read back."""

from __future__ import annotations

from spin_gateway.backends.runtime_check import (
    Observed,
    ObservedContainer,
    ObservedMount,
    caps_of,
    compare,
    expected,
)

SPEC = {"securityContext": {"runAsUser": 1001, "runAsGroup": 1001, "supplementalGroups": [5001]},
        "containers": [{"name": "app", "securityContext": {"allowPrivilegeEscalation": False,
                                                           "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
                        "volumeMounts": [{"name": "home", "mountPath": "/home", "readOnly": True}]}],
        "volumes": [{"name": "home", "hostPath": {"path": "/global/homes/a/alice"}}]}

STATUS = """Uid:\t1001\t1001\t1001\t1001
Gid:\t1001\t1001\t1001\t1001
Groups:\t1001 5001
CapPrm:\t0000000000000400
CapEff:\t0000000000000400
CapAmb:\t0000000000000400
NoNewPrivs:\t1
Seccomp:\t2
"""


def _observed(status=STATUS, mounts=None, privileged=False, ports=None):
    mounts = mounts if mounts is not None else [ObservedMount("/home", "/global/homes/a/alice", "bind", True, (1001, 1001))]
    return Observed({"app": ObservedContainer.from_proc("app", privileged, status, mounts)}, ports=ports or set(),
                    networks={"n"})


def test_caps_of_reads_the_kernel_mask():
    assert caps_of("0000000000000400") == {"NET_BIND_SERVICE"}
    assert caps_of("00000000800405fb") >= {"CHOWN", "SYS_CHROOT", "SETFCAP"}


def test_a_pod_running_as_decided_has_no_difference():
    assert compare(SPEC, _observed(), ports=set(), networks={"n"}, owners={"/global/homes/a/alice": (1001, 1001)}) == []


def test_every_setting_that_differs_is_named():
    status = STATUS.replace("Uid:\t1001\t1001", "Uid:\t0\t0").replace("0000000000000400", "0000000000000006") \
        .replace("NoNewPrivs:\t1", "NoNewPrivs:\t0").replace("Seccomp:\t2", "Seccomp:\t0").replace("1001 5001", "1001 5001 0")
    mounts = [ObservedMount("/home", "/global/homes/b/bob", "bind", False, (1002, 1002)),
              ObservedMount("/etc/x", "/etc", "bind", True)]
    diffs = compare(SPEC, _observed(status, mounts, privileged=True, ports={("0.0.0.0", 81, 80, "TCP")}),
                    ports=set(), networks={"n"}, owners={"/global/homes/b/bob": (1001, 1001)})
    text = "\n".join(diffs)
    for needle in ("privileged is True", "runs as uid 0, decided 1001", "groups [0]", "DAC_OVERRIDE",
                   "seccomp mode 0", "no_new_privs is off", "/etc/x", "mounted read-write, decided read-only",
                   "from bind /global/homes/b/bob", "owner of /global/homes/b/bob changed", "0.0.0.0:81->80/tcp"):
        assert needle in text, (needle, diffs)


def test_root_without_a_decision_may_hold_the_runtime_default_but_not_more():
    spec = {"containers": [{"name": "app"}]}
    assert expected(spec)["app"].caps >= {"CHOWN", "SETUID"}
    status = "Uid:\t0\t0\t0\t0\nCapEff:\t00000000800405fb\nCapPrm:\t00000000800405fb\nCapAmb:\t0\nSeccomp:\t2\n"
    assert compare(spec, _observed(status, [])) == []
    status = status.replace("800405fb", "802405fb")  # + SYS_ADMIN (bit 21)
    assert any("SYS_ADMIN" in d for d in compare(spec, _observed(status, [])))
