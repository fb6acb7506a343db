"""Input meant to break the translator: a clear TranslateError (service, key, what to do), never a traceback."""

from __future__ import annotations

import random
import re

import pytest

from spin_gateway.compose_loader import validate_model
from spin_gateway.translate import to_kubernetes
from spin_gateway.vocabulary.errors import ComposeError, SpinError, TranslateError
from tests.translate.helpers import model, translate
from tests.translate.schema import schema_errors


@pytest.mark.parametrize("services, top, words", [
    ({"web_1": {}, "web-1": {}}, {}, ["web_1", "web-1", "web-1"]),
    ({"Web": {}, "web": {}}, {}, ["'Web'", "'web'"]),
    ({"a": {"networks": {"front_net": None, "front-net": None}}}, {"networks": {"front_net": {}, "front-net": {}}},
     ["front_net", "front-net"]),
    ({"a": {"volumes": [{"type": "volume", "source": "db_data", "target": "/a"},
                        {"type": "volume", "source": "db-data", "target": "/b"}]}},
     {"volumes": {"db_data": {}, "db-data": {}}}, ["db_data", "db-data"]),
    ({"a": {"secrets": [{"source": "api_key"}, {"source": "api.key"}]}},
     {"secrets": {"api_key": {"content": "1"}, "api.key": {"content": "2"}}}, ["api_key", "api.key"]),
    ({"a": {"container_name": "b"}, "b": {}}, {}, ["'b'"]),
    ({"a": {"container_name": "shared"}, "b": {"container_name": "Shared"}}, {}, ["shared", "Shared"]),
])
def test_names_that_collide_after_conversion_are_refused_naming_both(services, top, words):
    with pytest.raises(TranslateError) as err:
        translate(model(services, **top))
    for word in words:
        assert word in err.value.message
    assert err.value.hint


def test_a_dependency_cycle_is_refused_naming_the_services():
    m = model({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"c": {}}}, "c": {"depends_on": {"a": {}}}, "d": {}})
    with pytest.raises(TranslateError, match=r"a, b, c depend on each other"):
        translate(m)


def test_a_name_with_nothing_kubernetes_can_use_is_refused():
    with pytest.raises(TranslateError, match=r"networks\.___"):
        translate(model({"a": {"networks": {"___": None}}}, networks={"___": {}}))


@pytest.mark.parametrize("replicas", [1001, 10_000])
def test_absurd_replica_counts_are_refused(replicas):
    with pytest.raises(TranslateError, match=f"services.web.deploy.replicas: {replicas} replicas, more than 1000"):
        translate(model({"web": {"deploy": {"replicas": replicas}}}))


def test_replica_counts_beyond_the_models_bound_never_reach_the_translator():
    with pytest.raises(ComposeError, match="replicas"):
        translate(model({"web": {"deploy": {"replicas": 10**9}}}))


@pytest.mark.parametrize("expose", ["1-65535", "0", "70000", "5-1", "80/icmp", "http"])
def test_port_ranges_and_ports_out_of_range_are_refused(expose):
    with pytest.raises(TranslateError, match=r"services.web.expose\[0\]"):
        translate(model({"web": {"expose": [expose]}}))


def test_a_large_project_translates():
    # 200 services (the model's bound), each with volumes, ports, secrets: fast and complete (timed in benchmarks/).
    services = {f"svc{i}": {"ports": [{"target": 80, "published": str(10000 + i), "protocol": "tcp"}],
                            "expose": ["9000-9099"],
                            "volumes": [{"type": "volume", "source": f"v{i % 10}", "target": f"/d{j}"} for j in range(20)],
                            "secrets": [{"source": "s", "target": f"/s{j}"} for j in range(5)],
                            "depends_on": {f"svc{i - 1}": {}} if i else {}}
                for i in range(200)}
    t = translate(model(services, volumes={f"v{i}": {} for i in range(10)}, secrets={"s": {"content": "x"}}))
    assert sum(o["kind"] == "Deployment" for o in t.objects) == 200


_VALUES = {
    "user": ["0", "65535:65535", "root", "1000:staff", "", ":"],
    "restart": ["no", "always", "on-failure:0", "on-failure:x", "unless-stopped"],
    "stop_grace_period": ["0s", "1h", "1.5s", "forever", "-1s"],
    "shm_size": ["64m", "1", "0", "lots", "9999999999999g"],
    "mem_limit": ["1g", "0", "x", 123],
    "cpus": [0.5, "2", "-1", "many"],
    "tmpfs": [["/t"], ["/t:size=1k"], ["/t:size=-1"], ["/t:uid=1"], [":"]],
    "cap_add": [["NET_ADMIN"], ["net_admin"], ["CAP_SYS_ADMIN"], [""]],
    "security_opt": [["no-new-privileges"], ["label:disable"], ["apparmor="], ["seccomp"], ["label=user"]],
    "sysctls": [{"net.core.somaxconn": "1"}, {"x": "1"}, {"net..x": "1"}],
    "extra_hosts": [["a=1.2.3.4"], ["a"], ["=1.2.3.4"], ["a:::1"]],
    "hostname": ["web", "Web", "a.b", "-a"],
    "platform": ["linux/amd64", "linux", "linux/"],
    "pull_policy": ["always", "daily", "every_2d"],
    "healthcheck": [{"test": ["CMD"]}, {"test": ["NONE"]}, {"test": ["CMD-SHELL"]}, {"test": ["WAT", "x"]},
                    {"test": ["CMD", "x"], "interval": "0s", "retries": 0}],
    "entrypoint": [[], ["$$("], ["$$$$$$"]],
    "labels": [{"": ""}, {"a/b/c": "d"}, {"k": "v" * 100}],
    "ports": [[{"target": 1, "published": "65535", "protocol": "udp"}], [{"target": 1, "published": "0-0"}]],
    "expose": [["1"], ["65535/sctp"], ["1-1000"], ["1-1001"]],
    "deploy": [{"resources": {"limits": {"cpus": "x"}}}, {"restart_policy": {"condition": "on-failure", "max_attempts": 0}},
               {"resources": {"limits": {"memory": "-5"}}}],
    "depends_on": [{"web": {}}, {"nobody": {"required": False}}],
    "volumes": [[{"type": "volume", "source": "data", "target": "/d"}], [{"type": "volume", "source": "nope", "target": "/d"}],
                [{"type": "bind", "source": "/x", "target": "/d", "bind": {"selinux": "z", "propagation": "rshared"}}],
                [{"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1024, "mode": 448}}],
                [{"type": "npipe", "source": "x", "target": "/p"}], [{"type": "volume", "target": "/anon"}],
                [{"type": "volume", "source": "data", "target": "/run/secrets/pw"}]],
    "container_name": ["c1", "S0", "weird_name", "9"],
    "networks": [{"default": None}, {"default": {"aliases": ["a1", "s1"]}}, {"default": {"ipv4_address": "10.0.0.1"}},
                 {"other": None}],
    "secrets": [[{"source": "pw"}], [{"source": "pw", "uid": "1"}], [{"source": "pw", "mode": "0999"}],
                [{"source": "unread"}], [{"source": "pw", "target": "relative"}]],
    "configs": [[{"source": "cf", "target": "/etc/x"}], [{"source": "cf"}]],
}
_TOP = {"volumes": {"data": {}}, "secrets": {"pw": {"content": "x"}, "unread": {"file": "/home/u/x"}},
        "configs": {"cf": {"content": "y"}}}


@pytest.mark.parametrize("seed", range(300))
def test_random_combinations_of_odd_values_translate_or_are_refused_clearly(seed):
    rng = random.Random(seed)
    services = {}
    for i in range(rng.randint(1, 3)):
        svc = {}
        for key in rng.sample(sorted(_VALUES), rng.randint(1, 6)):
            svc[key] = rng.choice(_VALUES[key])
        services[f"s{i}"] = svc
    m = model(services, **_TOP)
    try:
        m = validate_model(m)
    except ComposeError:
        return  # the model's own bounds refused it first
    for allow in (False, True):
        try:
            t = to_kubernetes(m, project="demo", namespace="demo", labels={}, allow_unsupported=allow)
        except TranslateError as exc:
            assert re.match(r"^(services|networks|volumes|secrets|configs|models)[.:\[]", exc.message), exc.message
            assert exc.hint
        except SpinError as exc:  # pragma: no cover - any other spin error must at least be one of ours
            pytest.fail(f"{type(exc).__name__}: {exc.message}")
        else:
            assert all(o["metadata"]["name"] for o in t.objects)
            assert [e for o in t.objects for e in schema_errors(o)] == []


@pytest.mark.parametrize("seed", range(300))
def test_what_allow_unsupported_leaves_out_is_exactly_what_was_refused(seed):
    # After leaving out every refused place, nothing is refused any more: the model that is deployed is one
    # the translator would take without the flag.
    from spin_gateway.translate.key_table import find_unsupported
    from spin_gateway.translate.translator import _without

    rng = random.Random(seed)
    services = {f"s{i}": {key: rng.choice(_VALUES[key]) for key in rng.sample(sorted(_VALUES), rng.randint(1, 6))}
                for i in range(rng.randint(1, 3))}
    try:
        m = validate_model(model(services, **_TOP))
    except ComposeError:
        return
    rest = _without(m, find_unsupported(m))
    assert [f.path for f in find_unsupported(rest)] == []
