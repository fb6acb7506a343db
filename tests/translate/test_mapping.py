"""What each mapped compose key becomes: one row per key, asserting the field a user would look for."""

from __future__ import annotations

import base64
import json

import pytest

from spin_gateway.vocabulary.errors import TranslateError
from tests.translate.helpers import IMAGE, LABELS, container, model, objects, one, pod_spec, translate


def c(svc, **top):
    return container(model({"web": svc}, **top))


def p(svc, **top):
    return pod_spec(model({"web": svc}, **top))


CASES = [
    ("image", {}, lambda: c({})["image"], IMAGE),
    ("entrypoint", {"entrypoint": ["/bin/sh", "-c"]}, lambda: c({"entrypoint": ["/bin/sh", "-c"]})["command"], ["/bin/sh", "-c"]),
    ("command", {}, lambda: c({"command": ["echo", "$$HOME"]})["args"], ["echo", "$HOME"]),
    ("command with a reference Kubernetes would expand", {},
     lambda: c({"command": ["echo", "$$(A)", "$$$$"], "environment": {"A": "1"}})["args"], ["echo", "$$(A)", "$$$"]),
    ("environment", {}, lambda: c({"environment": {"A": "1", "B": None, "C": "x$$y"}})["env"],
     [{"name": "A", "value": "1"}, {"name": "C", "value": "x$y"}]),
    ("working_dir", {}, lambda: c({"working_dir": "/srv"})["workingDir"], "/srv"),
    ("user uid:gid", {}, lambda: c({"user": "1000:100"})["securityContext"], {"runAsUser": 1000, "runAsGroup": 100, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("user uid", {}, lambda: c({"user": "1000"})["securityContext"], {"runAsUser": 1000, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("privileged", {}, lambda: c({"privileged": True})["securityContext"], {"privileged": True}),
    ("user root, Docker's default seccomp", {}, lambda: c({"user": "0"})["securityContext"], {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("read_only", {}, lambda: c({"read_only": True})["securityContext"], {"readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("cap_add/cap_drop", {}, lambda: c({"cap_add": ["CAP_NET_ADMIN"], "cap_drop": ["ALL"]})["securityContext"],
     {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("security_opt no-new-privileges", {}, lambda: c({"security_opt": ["no-new-privileges:true"]})["securityContext"],
     {"allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("security_opt seccomp/apparmor/label", {},
     lambda: c({"security_opt": ["seccomp:unconfined", "apparmor=myprof", "label=type:spc_t", "label=level:s0:c1"]})["securityContext"],
     {"seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "Localhost", "localhostProfile": "myprof"},
      "seLinuxOptions": {"type": "spc_t", "level": "s0:c1"}}),
    ("healthcheck CMD", {}, lambda: c({"healthcheck": {"test": ["CMD", "pg_isready"], "interval": "10s", "timeout": "5s",
                                                      "retries": 5, "start_period": "30s"}})["readinessProbe"],
     {"exec": {"command": ["pg_isready"]}, "periodSeconds": 10, "timeoutSeconds": 5, "initialDelaySeconds": 30,
      "failureThreshold": 5}),
    ("healthcheck CMD-SHELL with Docker's defaults", {},
     lambda: c({"healthcheck": {"test": ["CMD-SHELL", "curl -f localhost || exit 1"]}})["readinessProbe"],
     {"exec": {"command": ["/bin/sh", "-c", "curl -f localhost || exit 1"]}, "periodSeconds": 30, "timeoutSeconds": 30,
      "failureThreshold": 3}),
    ("healthcheck disabled", {}, lambda: "readinessProbe" in c({"healthcheck": {"disable": True}}), False),
    ("mem_limit/cpus/mem_reservation", {}, lambda: c({"mem_limit": "512m", "cpus": 1.5, "mem_reservation": "256m"})["resources"],
     {"limits": {"cpu": "1500m", "memory": "512Mi"}, "requests": {"memory": "256Mi"}}),
    ("deploy.resources", {}, lambda: c({"deploy": {"resources": {"limits": {"cpus": "0.5", "memory": "1610612736"},
                                                                 "reservations": {"cpus": 0.25}}}})["resources"],
     {"limits": {"cpu": "500m", "memory": "1536Mi"}, "requests": {"cpu": "250m"}}),
    ("pull_policy", {}, lambda: c({"pull_policy": "missing"})["imagePullPolicy"], "IfNotPresent"),
    ("tty/stdin_open", {}, lambda: (c({"tty": True, "stdin_open": True})["tty"], c({"stdin_open": True})["stdin"]), (True, True)),
    ("ports and expose become container ports", {},
     lambda: c({"ports": [{"target": 80, "published": "8080", "protocol": "tcp"}], "expose": ["53/udp"]})["ports"],
     [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]),
    ("pre_stop", {}, lambda: c({"pre_stop": [{"command": ["nginx", "-s", "quit"]}]})["lifecycle"],
     {"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}}),
    ("stop_grace_period", {}, lambda: p({"stop_grace_period": "1m30s"})["terminationGracePeriodSeconds"], 90),
    ("sub-second stop_grace_period rounds up", {}, lambda: p({"stop_grace_period": "500ms"})["terminationGracePeriodSeconds"], 1),
    ("sysctls", {}, lambda: p({"sysctls": {"net.core.somaxconn": "1024"}})["securityContext"],
     {"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}),
    ("group_add", {}, lambda: p({"group_add": ["100", "44"]})["securityContext"], {"supplementalGroups": [100, 44]}),
    ("hostname", {}, lambda: p({"hostname": "web1"})["hostname"], "web1"),
    ("extra_hosts", {}, lambda: p({"extra_hosts": ["db=10.0.0.2", "cache:10.0.0.2"]})["hostAliases"],
     [{"ip": "10.0.0.2", "hostnames": ["db", "cache"]}]),
    ("dns_search/dns_opt", {}, lambda: p({"dns_search": ["example.org"], "dns_opt": ["ndots:2", "rotate"]})["dnsConfig"],
     {"searches": ["example.org"], "options": [{"name": "ndots", "value": "2"}, {"name": "rotate"}]}),
    ("platform", {}, lambda: p({"platform": "linux/arm64/v8"})["nodeSelector"],
     {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}),
    ("no service links, no API token", {}, lambda: (p({})["enableServiceLinks"], p({})["automountServiceAccountToken"]),
     (False, False)),
    ("shm_size", {}, lambda: (p({"shm_size": "256m"})["volumes"], c({"shm_size": "256m"})["volumeMounts"]),
     ([{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}}], [{"name": "dshm", "mountPath": "/dev/shm"}])),
    ("tmpfs", {}, lambda: (p({"tmpfs": ["/run", "/tmp:size=64m"]})["volumes"]),
     [{"name": "tmpfs-0", "emptyDir": {"medium": "Memory"}}, {"name": "tmpfs-1", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]),
    ("bind mount", {}, lambda: (p({"volumes": [{"type": "bind", "source": "/data/x", "target": "/x", "read_only": True,
                                                "bind": {"create_host_path": True, "propagation": "rslave"}}]})["volumes"],
                                c({"volumes": [{"type": "bind", "source": "/data/x", "target": "/x", "read_only": True,
                                                "bind": {"propagation": "rslave"}}]})["volumeMounts"]),
     ([{"name": "bind-0", "hostPath": {"path": "/data/x", "type": "DirectoryOrCreate"}}],
      [{"name": "bind-0", "mountPath": "/x", "readOnly": True, "mountPropagation": "HostToContainer"}])),
    ("anonymous volume", {}, lambda: p({"volumes": [{"type": "volume", "target": "/cache"}]})["volumes"],
     [{"name": "anon-0", "emptyDir": {}}]),
    ("tmpfs mount", {}, lambda: p({"volumes": [{"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1048576}}]})["volumes"],
     [{"name": "tmpfs-0", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]),
]


@pytest.mark.parametrize("name, _unused, get, expected", CASES, ids=[c[0] for c in CASES])
def test_each_mapped_key_becomes_the_kubernetes_field(name, _unused, get, expected):
    assert get() == expected


def test_labels_that_are_valid_kubernetes_labels_stay_labels_the_others_become_annotations():
    labels = {"org.example.role": "portal", "traefik.http.routers.go.rule": "Path(`/`)", "x": "a" * 70}
    d = one(model({"web": {"labels": labels, "deploy": {"labels": {"tier": "front"}}}}), "Deployment")
    assert d["metadata"]["labels"]["org.example.role"] == "portal"
    assert d["metadata"]["labels"]["tier"] == "front"
    assert d["spec"]["template"]["metadata"]["labels"]["org.example.role"] == "portal"
    assert d["spec"]["template"]["metadata"]["annotations"] == {"traefik.http.routers.go.rule": "Path(`/`)", "x": "a" * 70}
    assert "tier" not in d["spec"]["template"]["metadata"]["labels"]


def test_the_gateway_labels_go_on_every_object_and_cannot_be_overridden():
    m = model({"web": {"ports": [{"target": 80, "published": "8080", "protocol": "tcp"}],
                       "volumes": [{"type": "volume", "source": "data", "target": "/d"}],
                       "secrets": [{"source": "pw"}]}},
              volumes={"data": {}}, secrets={"pw": {"content": "hunter2"}})
    for obj in objects(m):
        assert LABELS.items() <= obj["metadata"]["labels"].items(), obj["kind"]
    with pytest.raises(TranslateError, match=r"spin\.io/"):
        translate(model({"web": {"labels": {"spin.io/owner": "mallory"}}}))


def test_replicas_come_from_deploy_then_scale():
    assert one(model({"web": {"deploy": {"replicas": 3}}}), "Deployment")["spec"]["replicas"] == 3
    assert one(model({"web": {"scale": 2}}), "Deployment")["spec"]["replicas"] == 2
    assert one(model({"web": {}}), "Deployment")["spec"]["replicas"] == 1


@pytest.mark.parametrize("svc, restart, backoff", [
    ({"restart": "no"}, "Never", 0),
    ({"restart": "on-failure:3"}, "OnFailure", 3),
    ({"deploy": {"restart_policy": {"condition": "none"}}}, "Never", 0),
    ({"deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 2}}, "restart": "always"}, "OnFailure", 2),
])
def test_a_service_that_must_not_be_restarted_runs_to_completion_as_a_job(svc, restart, backoff):
    job = one(model({"web": svc}), "Job")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == restart
    assert job["spec"]["backoffLimit"] == backoff
    assert job["spec"]["template"]["metadata"]["labels"]["spin.io/service"] == "web"


@pytest.mark.parametrize("restart", ["always", "unless-stopped", None])
def test_services_that_run_until_stopped_are_deployments(restart):
    svc = {"restart": restart} if restart else {}
    assert one(model({"web": svc}), "Deployment")["spec"]["selector"] == {"matchLabels": {"spin.io/service": "web"}}


def test_each_service_gets_a_headless_service_of_its_name_with_published_ports_in_the_annotation():
    m = model({"web": {"ports": [{"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "tcp"},
                                 {"target": 80, "published": "8443", "protocol": "tcp"}],
                       "expose": ["9000-9001"]},
               "db": {}})
    web = one(m, "Service", "web")
    assert web["spec"]["clusterIP"] == "None"
    assert web["spec"]["selector"] == {"spin.io/service": "web"}
    assert [(x["port"], x["protocol"]) for x in web["spec"]["ports"]] == [(80, "TCP"), (9000, "TCP"), (9001, "TCP")]
    assert json.loads(web["metadata"]["annotations"]["spin.io/published"]) == [
        {"target": 80, "published": 8080, "host_ip": "127.0.0.1", "protocol": "tcp"},
        {"target": 80, "published": 8443, "host_ip": None, "protocol": "tcp"}]
    db = one(m, "Service", "db")
    assert "ports" not in db["spec"] and "annotations" not in db["metadata"]
    # no hostPort anywhere: the backend publishes
    assert "hostPort" not in json.dumps(objects(m))


def test_container_name_and_network_aliases_are_more_names_for_the_same_pods():
    m = model({"web": {"container_name": "frontend", "networks": {"front": {"aliases": ["www", "portal"]}}}},
              networks={"front": {}})
    names = sorted(s["metadata"]["name"] for s in objects(m, "Service"))
    assert names == ["frontend", "portal", "web", "www"]
    assert all(s["spec"]["selector"] == {"spin.io/service": "web"} for s in objects(m, "Service"))


def test_services_reach_each_other_only_over_networks_they_share():
    m = model({"proxy": {"networks": {"front": None}}, "app": {"networks": {"front": None, "back": None}},
               "db": {"networks": {"back": None}}}, networks={"front": {}, "back": {}})
    labels = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in objects(m, "Deployment")}
    assert labels["proxy"].get("network.spin.io/front") == "true" and "network.spin.io/back" not in labels["proxy"]
    assert labels["db"].get("network.spin.io/back") == "true" and "network.spin.io/front" not in labels["db"]
    policies = {o["metadata"]["name"]: o["spec"] for o in objects(m, "NetworkPolicy")}
    assert policies["network-back"] == {
        "podSelector": {"matchLabels": {"network.spin.io/back": "true"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"network.spin.io/back": "true"}}}]}]}
    assert sorted(policies) == ["network-back", "network-front"]


def test_published_ports_are_admitted_from_anywhere():
    m = model({"web": {"ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]}})
    policy = one(m, "NetworkPolicy", "published-web")
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 80, "protocol": "TCP"}]}]


def test_named_volumes_become_claims_shared_as_docker_shares_them():
    m = model({"db": {"volumes": [{"type": "volume", "source": "data", "target": "/var/lib/db"}]},
               "backup": {"volumes": [{"type": "volume", "source": "data", "target": "/backup", "read_only": True}],
                          "deploy": {"replicas": 1}},
               "cache": {"volumes": [{"type": "volume", "source": "scratch", "target": "/c"}]}},
              volumes={"data": {}, "scratch": {}, "unused": {}})
    claims = {o["metadata"]["name"]: o["spec"]["accessModes"] for o in objects(m, "PersistentVolumeClaim")}
    assert claims == {"data": ["ReadWriteMany"], "scratch": ["ReadWriteOnce"]}
    cache = one(m, "Deployment", "cache")
    assert cache["spec"]["strategy"] == {"type": "Recreate"}
    assert cache["spec"]["template"]["spec"]["volumes"] == [{"name": "claim-scratch", "persistentVolumeClaim": {"claimName": "scratch"}}]
    backup = one(m, "Deployment", "backup")
    assert backup["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "claim-data", "mountPath": "/backup", "readOnly": True}]


def test_an_external_volume_is_referred_to_and_not_created():
    m = model({"db": {"volumes": [{"type": "volume", "source": "data", "target": "/d"}]}},
              volumes={"data": {"external": True, "name": "Shared_Data"}})
    assert objects(m, "PersistentVolumeClaim") == []
    spec = one(m, "Deployment")["spec"]["template"]["spec"]
    assert spec["volumes"][0]["persistentVolumeClaim"] == {"claimName": "shared-data"}


def test_secrets_and_configs_are_mounted_at_their_targets_with_their_modes():
    m = model({"web": {"secrets": [{"source": "db-password"}, {"source": "api", "target": "/etc/api.key", "mode": "0400"}],
                       "configs": [{"source": "nginx", "target": "/etc/nginx/nginx.conf"}]}},
              secrets={"db-password": {"content": "s3cret"}, "api": {"content": "k"}},
              configs={"nginx": {"content": "events {}"}})
    secret = one(m, "Secret", "db-password")
    assert base64.b64decode(secret["data"]["content"]) == b"s3cret"
    assert one(m, "ConfigMap", "nginx")["data"] == {"content": "events {}"}
    c0 = container(m)
    assert {v["mountPath"]: v["subPath"] for v in c0["volumeMounts"]} == {
        "/run/secrets/db-password": "content", "/etc/api.key": "content", "/etc/nginx/nginx.conf": "content"}
    volumes = {v["name"]: v for v in pod_spec(m)["volumes"]}
    assert volumes["secret-api"]["secret"]["items"] == [{"key": "content", "path": "content", "mode": 0o400}]
    assert volumes["secret-db-password"]["secret"]["items"][0]["mode"] == 0o444


def test_objects_come_in_apply_order_and_dependencies_start_first():
    m = model({"web": {"depends_on": {"api": {"condition": "service_healthy", "required": True}},
                       "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]},
               "api": {"depends_on": {"db": {"condition": "service_started", "required": True}},
                       "secrets": [{"source": "pw"}]},
               "db": {"volumes": [{"type": "volume", "source": "data", "target": "/d"}]}},
              volumes={"data": {}}, secrets={"pw": {"content": "x"}})
    kinds = [o["kind"] for o in objects(m)]
    assert kinds == ["Secret", "PersistentVolumeClaim", "Deployment", "Deployment", "Deployment",
                     "Service", "Service", "Service", "NetworkPolicy", "NetworkPolicy"]
    assert [o["metadata"]["name"] for o in objects(m, "Deployment")] == ["db", "api", "web"]
    web = one(m, "Deployment", "web")
    assert json.loads(web["metadata"]["annotations"]["spin.io/depends-on"]) == {"api": "service_healthy"}
    # nothing in Kubernetes waits for "healthy": said, not hidden
    assert [(n.path, n.action) for n in translate(m).notices if "depends_on" in n.path] == [
        ("services.web.depends_on.api", "approximated")]


def test_names_are_made_dns_safe_and_the_change_is_reported():
    t = translate(model({"My_DB": {}}))
    assert [o["metadata"]["name"] for o in t.objects if o["kind"] == "Deployment"] == ["my-db"]
    assert [n.path for n in t.notices] == ["services.My_DB"]
    assert "my-db" in t.notices[0].reason


def test_the_same_model_gives_the_same_objects():
    m = model({"b": {"ports": [{"target": 1, "published": "2", "protocol": "tcp"}]}, "a": {"depends_on": {"b": {}}}})
    assert json.dumps(objects(m)) == json.dumps(objects(m))


def test_allow_unsupported_leaves_out_only_what_cannot_be_translated_and_says_so():
    m = model({"web": {"init": True, "user": "1000", "security_opt": ["no-new-privileges", "seccomp=/x.json"],
                       "ulimits": {"nofile": 10}}})
    with pytest.raises(TranslateError) as refused:
        translate(m)
    assert "services.web.init" in refused.value.message and "--allow-unsupported" in refused.value.hint
    assert [u["path"] for u in refused.value.details["unsupported"]] == [
        "services.web.init", "services.web.security_opt[1]", "services.web.ulimits"]
    t = translate(m, allow_unsupported=True)
    assert sorted(n.path for n in t.notices) == ["services.web.init", "services.web.security_opt[1]", "services.web.ulimits"]
    assert all(n.action == "ignored" for n in t.notices)
    sc = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert sc == {"runAsUser": 1000, "allowPrivilegeEscalation": False, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def test_build_without_image_runs_the_image_docker_compose_would_build_and_says_so():
    m = {"name": "demo", "services": {"web": {"build": {"context": "/src", "dockerfile": "docker/Dockerfile.prod",
                                                         "args": {"TOKEN": "s3cret"}}}}}
    t = translate(m)
    c = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "localhost/demo-web:latest" and c["imagePullPolicy"] == "IfNotPresent"
    [notice] = [n for n in t.notices if n.path == "services.web.build"]
    assert "podman build -t localhost/demo-web:latest -f /src/docker/Dockerfile.prod --build-arg ... /src" in notice.reason
    assert "s3cret" not in notice.reason  # a build argument may be a secret: never repeated


def test_build_with_image_deploys_the_image_and_says_so():
    t = translate(model({"web": {"build": {"context": "/src"}}}))
    assert [n.path for n in t.notices] == ["services.web.build"]
    assert IMAGE in t.notices[0].reason


def test_a_service_only_on_internal_networks_may_reach_only_its_peers_and_dns():
    m = model({"db": {"networks": {"back": None}}, "app": {"networks": {"back": None, "front": None}}},
              networks={"back": {"internal": True}, "front": {}})
    policy = one(m, "NetworkPolicy", "internal-db")
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert policy["spec"]["egress"][0] == {"to": [{"podSelector": {"matchLabels": {"network.spin.io/back": "true"}}}]}
    assert {p["port"] for p in policy["spec"]["egress"][1]["ports"]} == {53}
    # app is also on a network with a way out: no egress policy, as in Docker
    assert [o["metadata"]["name"] for o in objects(m, "NetworkPolicy")] == ["network-back", "network-front", "internal-db"]


def test_compose_port_names_and_app_protocols_are_kept_where_kubernetes_accepts_them():
    m = model({"web": {"ports": [{"target": 80, "published": "80", "name": "http", "app_protocol": "http"},
                                 {"target": 81, "published": "81", "name": "http"},
                                 {"target": 82, "published": "82", "name": "Not_A_Valid_Port_Name"}]}})
    ports = one(m, "Service", "web")["spec"]["ports"]
    assert [(p["name"], p.get("appProtocol")) for p in ports] == [("http", "http"), ("tcp-81", None), ("tcp-82", None)]


def test_an_anonymous_volume_is_reported_as_an_approximation():
    t = translate(model({"web": {"volumes": [{"type": "volume", "target": "/app/node_modules"}]}}))
    assert [(n.path, n.action) for n in t.notices] == [("services.web.volumes[0]", "approximated")]
    assert "starts empty" in t.notices[0].reason


def test_allow_unsupported_leaves_out_the_right_place_even_under_a_dotted_service_name():
    m = model({"web.frontend": {"deploy": {"replicas": 5000}, "labels": {"spin.io/owner": "mallory", "tier": "a"},
                                "ports": [{"target": 80, "published": "8000-8010", "protocol": "tcp"},
                                          {"target": 81, "published": "81", "protocol": "tcp"}]}})
    t = translate(m, allow_unsupported=True)
    assert sorted(n.path for n in t.notices if n.action == "ignored") == [
        "services.web.frontend.deploy.replicas", "services.web.frontend.labels.spin.io/owner",
        "services.web.frontend.ports[0].published"]
    # only the host port range goes: port 80 stays an in-cluster port, and says so
    assert [n.path for n in t.notices if n.action == "approximated" and "ports" in n.path] == ["services.web.frontend.ports[0]"]
    d = next(o for o in t.objects if o["kind"] == "Deployment")
    assert d["spec"]["replicas"] == 1 and d["metadata"]["labels"]["spin.io/owner"] == "alice"
    assert d["metadata"]["labels"]["tier"] == "a"
    assert d["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"},
                                                                       {"containerPort": 81, "protocol": "TCP"}]


def test_a_service_whose_name_starts_with_a_digit_gets_a_service_name_kubernetes_accepts():
    t = translate(model({"3d-viewer": {"ports": [{"target": 80, "published": "80", "protocol": "tcp"}]}}))
    assert {(o["kind"], o["metadata"]["name"]) for o in t.objects if o["kind"] in ("Deployment", "Service")} == {
        ("Deployment", "svc-3d-viewer"), ("Service", "svc-3d-viewer")}
    assert "svc-3d-viewer" in t.notices[0].reason


def test_labels_of_volumes_networks_and_secrets_go_on_their_objects():
    m = model({"web": {"volumes": [{"type": "volume", "source": "d", "target": "/d"}], "secrets": [{"source": "s"}],
                       "networks": {"n": None}}},
              volumes={"d": {"labels": {"backup": "nightly", "note": "kept for 30 days"}}},
              networks={"n": {"labels": ["tier=back"]}}, secrets={"s": {"content": "x", "labels": {"rotate": "yearly"}}})
    pvc = one(m, "PersistentVolumeClaim", "d")
    assert pvc["metadata"]["labels"]["backup"] == "nightly" and pvc["metadata"]["annotations"] == {"note": "kept for 30 days"}
    assert one(m, "NetworkPolicy", "network-n")["metadata"]["labels"]["tier"] == "back"
    assert one(m, "Secret", "s")["metadata"]["labels"]["rotate"] == "yearly"


def test_a_secret_left_out_is_left_out_of_the_services_that_mount_it():
    m = model({"web": {"secrets": [{"source": "unread"}, {"source": "ok"}]}},
              secrets={"unread": {"file": "/home/alice/pw.txt"}, "ok": {"content": "x"}})
    t = translate(m, allow_unsupported=True)
    assert [n.path for n in t.notices] == ["secrets.unread"]
    assert [o["metadata"]["name"] for o in t.objects if o["kind"] == "Secret"] == ["ok"]
    spec = next(o for o in t.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert [v["secret"]["secretName"] for v in spec["volumes"]] == ["ok"]
