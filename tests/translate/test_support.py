"""The unsupported-key detector: a pure function, checked against a table of cases, and the table against the spec."""

from __future__ import annotations

import pytest

from spin_gateway.compose_loader.model import ComposeModel, Service
from spin_gateway.translate.key_table import SERVICE_KEYS, TOP_LEVEL_KEYS, find_unsupported, ignored_keys
from tests.translate.helpers import IMAGE, model


def test_every_service_key_the_loader_accepts_has_a_row():
    # A key the loader lets through but the table does not know would be lost without a word.
    missing = sorted(set(Service.model_fields) - set(SERVICE_KEYS))
    assert missing == []


def test_every_top_level_key_the_loader_accepts_has_a_row():
    assert sorted(set(ComposeModel.model_fields) - set(TOP_LEVEL_KEYS)) == []


def test_every_refused_key_says_why():
    for row in [*SERVICE_KEYS.values(), *TOP_LEVEL_KEYS.values()]:
        assert row.becomes or row.why, row.name
        if row.fate == "refused":
            assert row.why, row.name


# (service snippet, top-level extras, paths the detector must name) ----------------------------------
REFUSED = [
    ({"init": True}, {}, ["services.web.init"]),
    ({"ulimits": {"nofile": 1024}}, {}, ["services.web.ulimits"]),
    ({"devices": ["/dev/fuse"]}, {}, ["services.web.devices"]),
    ({"runtime": "runsc"}, {}, ["services.web.runtime"]),
    ({"logging": {"driver": "syslog"}}, {}, ["services.web.logging"]),
    ({"dns": ["dns.example.org"]}, {}, ["services.web.dns[0]"]),
    ({"dns": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]}, {}, ["services.web.dns"]),
    ({"volumes_from": ["container:legacy"]}, {}, ["services.web.volumes_from[0]"]),
    ({"volumes_from": ["ghost"]}, {}, ["services.web.volumes_from[0]"]),
    ({"pid": "host"}, {}, ["services.web.pid"]),
    ({"ipc": "host"}, {}, ["services.web.ipc"]),
    ({"user": "postgres"}, {}, ["services.web.user"]),
    ({"user": "www-data:1000"}, {}, ["services.web.user"]),
    ({"security_opt": ["no-new-privileges", "seccomp=/tmp/profile.json"]}, {}, ["services.web.security_opt[1]"]),
    ({"network_mode": "host"}, {}, ["services.web.network_mode"]),
    ({"network_mode": "service:db"}, {}, ["services.web.network_mode"]),
    ({"ports": [{"target": 80, "published": "8000-8010", "protocol": "tcp"}]}, {}, ["services.web.ports[0].published"]),
    ({"expose": ["1-65535"]}, {}, ["services.web.expose[0]"]),
    ({"expose": ["9000-8000"]}, {}, ["services.web.expose[0]"]),
    ({"tmpfs": ["/run:mode=1777"]}, {}, ["services.web.tmpfs[0].mode=1777"]),
    ({"tmpfs": ["/run:size=64m,uid=1000,noexec"]}, {}, ["services.web.tmpfs[0].uid=1000"]),
    ({"tmpfs": ["run"]}, {}, ["services.web.tmpfs[0]"]),
    ({"stop_signal": "SIGINT"}, {}, ["services.web.stop_signal"]),
    ({"restart": "sometimes"}, {}, ["services.web.restart"]),
    ({"deploy": {"mode": "replicated-job"}}, {}, ["services.web.deploy.mode"]),
    ({"deploy": {"replicas": 5000}}, {}, ["services.web.deploy.replicas"]),
    ({"scale": 5000}, {}, ["services.web.scale"]),
    ({"deploy": {"resources": {"limits": {"pids": 100}}}}, {}, ["services.web.deploy.resources.limits.pids"]),
    ({"deploy": {"restart_policy": {"condition": "on-failure", "delay": "5s"}}}, {},
     ["services.web.deploy.restart_policy.delay"]),
    ({"healthcheck": {"test": ["CMD", "true"], "start_interval": "1s"}}, {}, ["services.web.healthcheck.start_interval"]),
    ({"extra_hosts": ["host.docker.internal=host-gateway"]}, {}, ["services.web.extra_hosts[0]"]),
    ({"group_add": ["video"]}, {}, ["services.web.group_add[0]"]),
    ({"pull_policy": "build"}, {}, ["services.web.pull_policy"]),
    ({"platform": "windows/amd64"}, {}, ["services.web.platform"]),
    ({"hostname": "web.example.org"}, {}, ["services.web.hostname"]),
    ({"links": ["db:database"]}, {}, ["services.web.links[0]"]),
    ({"labels": {"spin.io/owner": "mallory"}}, {}, ["services.web.labels.spin.io/owner"]),
    ({"deploy": {"labels": {"spin.io/project": "other"}}}, {}, ["services.web.deploy.labels.spin.io/project"]),
    ({"annotations": {"spin.io/published": "[]"}}, {}, ["services.web.annotations.spin.io/published"]),
    ({"labels": {"has space": "x"}}, {}, ["services.web.labels.has space"]),
    ({"volumes": [{"type": "volume", "source": "d", "target": "/d"}]}, {"volumes": {"d": {"labels": {"a b": "c"}}}},
     ["volumes.d.labels.a b"]),
    ({"entrypoint": []}, {}, ["services.web.entrypoint"]),
    ({"volumes": [{"type": "bind", "source": "/data", "target": "/data", "bind": {"selinux": "z"}}]}, {},
     ["services.web.volumes[0].bind.selinux"]),
    ({"volumes": [{"type": "npipe", "source": "//./pipe/x", "target": "/x"}]}, {}, ["services.web.volumes[0]"]),
    ({"volumes": [{"type": "tmpfs", "target": "/t", "tmpfs": {"mode": 1777}}]}, {}, ["services.web.volumes[0].tmpfs.mode"]),
    ({"secrets": [{"source": "s", "mode": "0999"}]}, {"secrets": {"s": {"content": "x"}}}, ["services.web.secrets[0].mode"]),
    ({"volumes": [{"type": "volume", "source": "d", "target": "/d"}]},
     {"volumes": {"d": {"driver_opts": {"type": "none", "o": "bind", "device": "/srv"}}}},
     ["volumes.d.driver_opts.type", "volumes.d.driver_opts.o", "volumes.d.driver_opts.device"]),
    ({"secrets": [{"source": "s"}]}, {"secrets": {"s": {"file": "/home/u/s.txt"}}}, ["secrets.s"]),
    ({"secrets": [{"source": "s"}]}, {"secrets": {"s": {"environment": "TOKEN"}}}, ["secrets.s"]),
    ({"networks": {"front": None}}, {"networks": {"front": {"external": True}}}, ["networks.front.external"]),
    ({"networks": {"front": {"ipv4_address": "10.0.0.5"}}}, {"networks": {"front": {}}},
     ["services.web.networks.front.ipv4_address"]),
    ({"networks": {"front": None}}, {"networks": {"front": {"ipam": {"config": [{"subnet": "10.5.0.0/16"}]}}}},
     ["networks.front.ipam"]),
    ({"volumes": [{"type": "volume", "source": "data", "target": "/d"}]}, {"volumes": {"data": {"driver": "nfs"}}},
     ["volumes.data.driver"]),
    ({"volumes": [{"type": "volume", "source": "nowhere", "target": "/d"}]}, {}, ["services.web.volumes[0]"]),
    ({"depends_on": {"ghost": {"condition": "service_started", "required": True}}}, {}, ["services.web.depends_on.ghost"]),
    ({}, {"models": {"llm": {"model": "ai/smollm2"}}}, ["models"]),
    ({"extra_hosts": ["db=not-an-address"]}, {}, ["services.web.extra_hosts[0]"]),
    ({"shm_size": "64m", "tmpfs": ["/dev/shm"]}, {}, ["services.web.shm_size"]),
    ({"volumes": [{"type": "tmpfs", "target": "/run/secrets/s"}], "secrets": [{"source": "s"}]},
     {"secrets": {"s": {"content": "x"}}}, ["services.web.secrets[0]"]),
    ({"mem_limit": "1g", "mem_reservation": "2g"}, {}, ["services.web.mem_reservation"]),
    ({"deploy": {"resources": {"limits": {"cpus": "1"}, "reservations": {"cpus": "2"}}}}, {},
     ["services.web.deploy.resources.reservations.cpus"]),
]


@pytest.mark.parametrize("service, top, paths", REFUSED, ids=[p[0] for _, _, p in REFUSED])
def test_the_detector_names_each_place_it_cannot_honour(service, top, paths):
    found = find_unsupported(model({"web": service}, **top))
    assert [f.path for f in found] == paths
    assert all(f.reason and f.hint for f in found)


MAPPED = [
    {"user": "1000:1000"}, {"user": "1000"}, {"cap_add": ["NET_ADMIN"], "cap_drop": ["ALL"]},
    {"security_opt": ["no-new-privileges:true", "seccomp:unconfined", "apparmor=unconfined", "label=type:spc_t"]},
    {"network_mode": "bridge"}, {"ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]},
    {"expose": ["8080", "9000-9010/udp"]}, {"tmpfs": ["/run", "/tmp:size=64m"]}, {"stop_signal": "SIGTERM"},
    {"restart": "on-failure:3"}, {"deploy": {"replicas": 3, "resources": {"limits": {"cpus": 0.5, "memory": "512m"}}}},
    {"healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "10s", "retries": 2}}, {"extra_hosts": ["db=10.0.0.2"]},
    {"group_add": ["100"]}, {"pull_policy": "always"}, {"platform": "linux/arm64"}, {"hostname": "web1"},
    {"links": ["db"]}, {"labels": {"a.b/c": "d"}}, {"stop_grace_period": "1m30s"}, {"shm_size": "256m"},
    {"privileged": False, "init": False}, {"ports": [{"target": 80, "protocol": "tcp"}]}, {"dns": ["10.0.0.53"]},
    {"tmpfs": ["/run:noexec,nosuid,nodev,size=1m"]}, {"deploy": {"mode": "global"}}, {"volumes_from": ["db:ro"]},
    {"secrets": [{"source": "s", "uid": "1000", "gid": "1000", "mode": "01204"}]},
]


@pytest.mark.parametrize("service", MAPPED, ids=[str(sorted(s)) for s in MAPPED])
def test_values_that_have_a_faithful_form_are_not_refused(service):
    m = model({"web": service, "db": {"image": IMAGE}})
    assert find_unsupported(m) == []


def test_the_detector_is_pure():
    m = model({"web": {"init": True, "user": "root"}})
    before = repr(m)
    assert find_unsupported(m) == find_unsupported(m)
    assert repr(m) == before


def test_keys_docker_compose_itself_ignores_are_reported_not_refused():
    m = model({"web": {"attach": False, "deploy": {"placement": {"constraints": ["node.role==manager"]}},
                       "build": {"context": "."}}})
    assert find_unsupported(m) == []
    paths = [p for p, _ in ignored_keys(m)]
    assert paths == ["services.web.attach", "services.web.build", "services.web.deploy.placement"]
