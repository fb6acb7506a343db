"""Each loss a real compose file met without a word (issue 17): now translated, or a notice naming it."""

from __future__ import annotations

from spin_gateway.compose_loader import load_project
from spin_gateway.vocabulary.errors import TranslateError
from tests.compose.oracle import docker_compose_config, oracle_environment
from tests.translate.helpers import model, objects, one, pod_spec, translate


def _notices(t, path):
    return [n for n in t.notices if n.path == path]


def test_a_variable_with_no_value_set_nowhere_is_left_out_with_a_notice():
    t = translate(model({"web": {"environment": {"SESSION_SECRET": None, "A": "b"}}}))
    c = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert c["env"] == [{"name": "A", "value": "b"}]
    [n] = _notices(t, "services.web.environment.SESSION_SECRET")
    assert "not set" in n.reason and n.action == "ignored"


def test_the_map_form_takes_the_shell_value_and_reaches_the_container(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    environment:\n      SESSION_SECRET:\n")
    project = load_project([tmp_path / "compose.yaml"], environ={"SESSION_SECRET": "s3"})
    c = next(o for o in translate(project.model).objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert c["env"] == [{"name": "SESSION_SECRET", "value": "s3"}]


def test_a_container_name_kubernetes_cannot_hold_is_renamed_and_said():
    t = translate(model({"web": {"container_name": "test_server"}, "client": {}}))
    assert "test-server" in {o["metadata"]["name"] for o in t.objects if o["kind"] == "Service"}
    [n] = _notices(t, "services.web.container_name")
    assert "'test-server'" in n.reason and "'test_server'" in n.reason


def test_a_healthcheck_with_timings_but_no_test_says_there_is_no_probe():
    t = translate(model({"web": {"healthcheck": {"interval": "10s", "retries": 5}}}))
    c = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in c
    [n] = _notices(t, "services.web.healthcheck")
    assert "interval, retries" in n.reason and "HEALTHCHECK" in n.reason


def test_depends_on_restart_is_said_to_be_lost():
    t = translate(model({"web": {"depends_on": {"db": {"condition": "service_started", "restart": True}}}, "db": {}}))
    [n] = _notices(t, "services.web.depends_on.db.restart")
    assert "restarts web when it restarts db" in n.reason


def test_external_secrets_configs_and_volumes_say_under_which_name_they_must_exist():
    m = model({"web": {"secrets": [{"source": "tls"}], "configs": [{"source": "conf"}],
                       "volumes": [{"type": "volume", "source": "data", "target": "/d"}]}},
              secrets={"tls": {"external": True, "name": "site_tls"}}, configs={"conf": {"external": True}},
              volumes={"data": {"external": True, "name": "shared-data"}})
    t = translate(m)
    assert not [o for o in t.objects if o["kind"] in ("Secret", "ConfigMap", "PersistentVolumeClaim")]
    reasons = {n.path: n.reason for n in t.notices}
    assert "Secret named 'site-tls' must already exist in the namespace 'demo'" in reasons["secrets.tls"]
    assert "ConfigMap named 'conf'" in reasons["configs.conf"]
    assert "PersistentVolumeClaim named 'shared-data'" in reasons["volumes.data"]


def test_allow_unsupported_leaves_out_a_tmpfs_option_not_the_mount():
    t = translate(model({"web": {"tmpfs": ["/run:size=1m,mode=1777,uid=0"]}}), allow_unsupported=True)
    assert pod_spec(model({"web": {"tmpfs": ["/run:size=1m"]}}))["volumes"] == \
        next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["volumes"]
    paths = [n.path for n in t.notices if n.action == "ignored"]
    assert paths == ["services.web.tmpfs[0].mode=1777", "services.web.tmpfs[0].uid=0"]
    assert all("the tmpfs mount is kept" in n.reason for n in t.notices if n.action == "ignored")


def test_allow_unsupported_leaves_out_a_secret_driver_not_the_secret():
    m = model({"web": {"secrets": [{"source": "s"}]}}, secrets={"s": {"content": "x", "driver": "vault"}})
    t = translate(m, allow_unsupported=True)
    assert one(m, "Secret", allow_unsupported=True)["data"] == {"content": "eA=="}
    assert [n.path for n in t.notices if n.action == "ignored"] == ["secrets.s.driver"]


def test_allow_unsupported_leaves_out_a_bad_mode_not_the_secret():
    m = model({"web": {"secrets": [{"source": "s", "mode": "0999"}]}}, secrets={"s": {"content": "x"}})
    t = translate(m, allow_unsupported=True)
    mounts = pod_spec(m, allow_unsupported=True)["volumes"]
    assert mounts[0]["secret"]["items"][0]["mode"] == 0o444
    assert [n.path for n in t.notices if n.action == "ignored"] == ["services.web.secrets[0].mode"]


def test_a_decimal_mode_is_read_as_docker_compose_reads_it(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    secrets:\n"
                                           "      - source: s\n        mode: 644\n        uid: \"1000\"\n"
                                           "secrets:\n  s:\n    environment: S\n")
    env = oracle_environment(tmp_path, {"S": "x"})
    theirs = docker_compose_config(tmp_path, [], {"S": "x"}, [])
    assert not isinstance(theirs, str), theirs
    assert theirs["services"]["web"]["secrets"][0]["mode"] == "01204"  # 644 read as a decimal number: 0o1204
    project = load_project([tmp_path / "compose.yaml"], environ=env)
    m = project.model
    m["secrets"]["s"]["content"] = "x"
    t = translate(m)
    item = pod_spec(m)["volumes"][0]["secret"]["items"][0]
    assert item["mode"] == 0o204  # the permission bits of 0o1204; the sticky bit has no Kubernetes form
    reasons = {n.path: n.reason for n in t.notices}
    assert "0o1204" in reasons["services.web.secrets[0].mode"] and '"0644"' in reasons["services.web.secrets[0].mode"]
    assert "Docker Compose ignores them too" in reasons["services.web.secrets[0]"]


def test_deploy_mode_global_is_one_replica_with_a_notice():
    t = translate(model({"web": {"deploy": {"mode": "global"}}}))
    assert next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["replicas"] == 1
    assert "DaemonSet" in _notices(t, "services.web.deploy.mode")[0].reason


def test_a_random_host_port_is_an_in_cluster_port_and_nothing_is_published():
    t = translate(model({"redis": {"ports": [{"target": 6379, "protocol": "tcp"}]}}))
    svc = next(o for o in t.objects if o["kind"] == "Service")
    assert svc["spec"]["ports"][0]["port"] == 6379 and "annotations" not in svc["metadata"]
    assert not [o for o in t.objects if o["metadata"]["name"].startswith("published-")]
    assert "redis:6379" in _notices(t, "services.redis.ports[0]")[0].reason


def test_volumes_from_mounts_the_same_claims_and_binds_and_refuses_what_cannot_be_shared():
    m = model({"app": {"volumes": [{"type": "volume", "source": "data", "target": "/data"},
                                   {"type": "bind", "source": "/srv/conf", "target": "/conf"}]},
               "backup": {"volumes_from": ["app:ro"], "volumes": [{"type": "bind", "source": "/x", "target": "/conf"}]}},
              volumes={"data": {}})
    objs = objects(m)
    backup = next(o for o in objs if o["metadata"]["name"] == "backup" and o["kind"] == "Deployment")
    mounts = backup["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "claim-data", "mountPath": "/data", "readOnly": True} in mounts
    assert [mt["mountPath"] for mt in mounts].count("/conf") == 1  # its own mount wins, as in Docker
    assert one(m, "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
    anon = model({"app": {"volumes": [{"type": "volume", "target": "/cache"}]}, "backup": {"volumes_from": ["app"]}})
    try:
        translate(anon)
    except TranslateError as exc:
        assert "services.backup.volumes_from[0]" in str(exc) and "emptyDir" in str(exc)
    else:
        raise AssertionError("an anonymous volume cannot be shared between two pods")


def test_dns_servers_come_after_the_cluster_dns_with_a_notice():
    t = translate(model({"web": {"dns": ["10.0.0.53"]}}))
    spec = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert spec["dnsConfig"] == {"nameservers": ["10.0.0.53"]} and "dnsPolicy" not in spec  # ClusterFirst kept
    assert "after the cluster DNS" in _notices(t, "services.web.dns")[0].reason


def test_every_tmpfs_says_docker_mounts_it_noexec():
    t = translate(model({"web": {"tmpfs": ["/run", "/x:exec,suid,dev"]}}))
    assert [n.path for n in t.notices] == ["services.web.tmpfs[0]"]
    assert "noexec" in t.notices[0].reason


def test_domainname_is_said_to_be_the_cluster_s():
    t = translate(model({"web": {"domainname": "example.org"}}))
    assert "cluster" in _notices(t, "services.web.domainname")[0].reason


def test_volumes_from_is_transitive_and_a_service_s_own_path_wins_as_in_docker():
    m = model({"cat": {"volumes": [{"type": "volume", "source": "c", "target": "/cat"}]},
               "foo": {"volumes_from": ["cat"], "volumes": [{"type": "volume", "target": "/foo1"}]},
               "bar": {"volumes_from": ["foo"], "volumes": [{"type": "volume", "target": "/foo1"}]}},
              volumes={"c": {}})
    objs = objects(m)
    bar = next(o for o in objs if o["metadata"]["name"] == "bar" and o["kind"] == "Deployment")
    assert sorted(mt["mountPath"] for mt in bar["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]) == ["/cat", "/foo1"]


def test_a_named_volume_says_it_starts_empty_unless_nocopy_says_docker_would_not_copy_either():
    vol = {"type": "volume", "source": "data", "target": "/usr/share/nginx/html"}
    t = translate(model({"web": {"volumes": [vol]}}, volumes={"data": {}}))
    assert "starts empty" in _notices(t, "services.web.volumes[0]")[0].reason
    quiet = translate(model({"web": {"volumes": [{**vol, "volume": {"nocopy": True}}]}}, volumes={"data": {}}))
    assert _notices(quiet, "services.web.volumes[0]") == []


def test_zero_retries_and_zero_durations_inherit_docker_s_defaults_as_docker_reads_them():
    t = translate(model({"web": {"healthcheck": {"test": ["CMD", "true"], "retries": 0, "interval": "0s"}}}))
    probe = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["failureThreshold"] == 3 and probe["periodSeconds"] == 30


def test_allow_unsupported_leaves_out_each_driver_key_and_nothing_is_refused_after():
    from spin_gateway.translate.key_table import find_unsupported
    from spin_gateway.translate.translator import _without

    m = model({"web": {"secrets": [{"source": "s"}]}},
              secrets={"s": {"content": "x", "template_driver": "golang", "driver_opts": {"a": "b"}}})
    assert [f.path for f in find_unsupported(m)] == ["secrets.s.template_driver", "secrets.s.driver_opts"]
    assert find_unsupported(_without(m, find_unsupported(m))) == []


def test_the_random_port_notice_names_the_service_as_peers_reach_it():
    t = translate(model({"3d_viewer": {"ports": [{"target": 80, "protocol": "tcp"}]}}))
    assert "svc-3d-viewer:80" in _notices(t, "services.3d_viewer.ports[0]")[0].reason
