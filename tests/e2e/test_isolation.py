"""Issue 13 on the real podman backend, as an attacker works: several users at once, names chosen to
collide, paths that move under you, and what runs read back from /proc inside the containers.

Each test names the class of the issue it covers (docs/security-officer.md lists them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.podman
IMAGE = "localhost/spin/busybox:1.35"
SLEEP = "    command: [sleep, '600']\n"


def _podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True).stdout


def _read(container: str, path: str) -> str:
    """A file inside a running container; podman exec can fail for a moment on a loaded machine, so thrice."""
    for _ in range(3):
        proc = subprocess.run(["podman", "exec", container, "cat", path], capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout.strip()
        time.sleep(1)
    return f"(podman exec failed: {proc.stderr.strip()})"


def _json(*args: str):
    return json.loads(_podman(*args, "--format", "json") or "[]") or []


def _status(container: str) -> dict[str, str]:
    """/proc/1/status inside the container, as the container's first process sees itself."""
    out = _read(container, "/proc/1/status")
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def _compose(tmp: Path, text: str, name: str = "compose.yaml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _name() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture
def home():
    """A fresh folder in alice's and in bob's global home (the homes themselves are shared with other tests)."""
    made = []

    def make(user: str, mode: int = 0o750) -> Path:
        uid = {"alice": 1001, "bob": 1002}[user]
        root = Path(f"/global/homes/{user[0]}/{user}")
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"spin-sec-{_name()}"
        path.mkdir()
        os.chown(path, uid, uid)
        path.chmod(mode)
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def projects(gateway):
    """Projects to bring down (with their volumes) whatever the test did, as their owners."""
    started: list[tuple[str, str]] = []
    yield started
    for user, project in started:
        gateway.spin("-p", project, "down", "-v", user=user)


# -- class 1: annotations with runtime meaning ---------------------------------------------------

def test_class1_a_seccomp_or_bind_option_annotation_is_refused_and_nothing_runs(gateway, tmp_path, projects):
    project = f"ann-{_name()}"
    projects.append(("alice", project))
    for annotation in ("seccomp.security.alpha.kubernetes.io/pod: unconfined", "bind-mount-options: '/tmp:U'",
                       "io.podman.annotations.privileged/app: 'true'"):
        compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}"
                                     f"    annotations:\n      {annotation}\n")
        up = gateway.spin("-f", str(compose), "-p", project, "up")
        assert up.returncode == 1 and "annotations" in up.stderr, up.stdout + up.stderr
    assert _json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []


# -- class 2: podman options inside a mount path -------------------------------------------------

def test_class2_colon_options_in_a_mount_target_are_refused_and_the_folder_keeps_its_owner(gateway, tmp_path, home,
                                                                                            projects):
    folder = home("alice")
    secret = folder / "mine"
    secret.write_text("private")
    os.chown(secret, 1001, 1001)
    secret.chmod(0o600)
    project = f"opt-{_name()}"
    projects.append(("alice", project))
    for target in ("/data:U", "/data:ro,U", "/data:z"):
        compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}"
                                     f"    volumes:\n      - type: bind\n        source: {folder}\n"
                                     f"        target: '{target}'\n")
        up = gateway.spin("-f", str(compose), "-p", project, "up")
        assert up.returncode != 0, up.stdout
        assert "mount_paths" in up.stderr or "not a valid" in up.stderr, up.stderr
    st = secret.stat()
    assert (st.st_uid, st.st_gid) == (1001, 1001) and folder.stat().st_uid == 1001


# -- class 3: capabilities beside the global file system -----------------------------------------

def test_class3_only_net_bind_service_beside_the_global_fs_and_that_is_what_the_container_holds(
        gateway, tmp_path, home, projects):
    folder = home("alice")
    project = f"cap-{_name()}"
    projects.append(("alice", project))
    mount = f"    volumes: ['{folder}:/data']\n"
    bad = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}{mount}"
                             "    cap_add: [DAC_OVERRIDE, CHOWN, FOWNER, SETUID, SETGID]\n")
    up = gateway.spin("-f", str(bad), "-p", project, "up")
    assert up.returncode == 1 and "capabilities" in up.stderr, up.stdout + up.stderr
    good = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}{mount}"
                              "    cap_add: [NET_BIND_SERVICE]\n")
    up = gateway.spin("-f", str(good), "-p", project, "up", "--wait", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    status = _status(f"{project}_app-app")
    assert status["Uid"].split()[:2] == ["1001", "1001"]
    assert int(status["CapEff"], 16) == 1 << 10 and int(status["CapAmb"], 16) == 1 << 10  # NET_BIND_SERVICE only
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"


# -- class 4: published host addresses and ports --------------------------------------------------

def test_class4_published_addresses_and_ports_are_decided_and_bound_exactly(gateway, tmp_path, projects):
    from tests.e2e.conftest import free_port
    project = f"pub-{_name()}"
    projects.append(("alice", project))
    for ports, why in ((f"0.0.0.0:{free_port()}:8080", "0.0.0.0"), ("81:8080", "81")):
        compose = _compose(tmp_path, f"services:\n  web:\n    image: {IMAGE}\n{SLEEP}    ports: ['{ports}']\n")
        up = gateway.spin("-f", str(compose), "-p", project, "up")
        assert up.returncode == 1 and "published_ports" in up.stderr and why in up.stderr, up.stdout + up.stderr
    port = free_port()
    compose = _compose(tmp_path, f"services:\n  web:\n    image: {IMAGE}\n"
                                 "    command: [httpd, -f, -p, '8080']\n"
                                 f"    ports: ['{port}:8080']\n")
    up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    bindings = _json("pod", "inspect", f"{project}_web")
    bindings = (bindings[0] if isinstance(bindings, list) else bindings)["InfraConfig"]["PortBindings"]
    assert bindings == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}


# -- classes 5 and 6: names that collide, label queries -------------------------------------------

def test_class5_project_names_that_would_normalise_are_refused(gateway, tmp_path):
    compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}")
    out = gateway.spin("-f", str(compose), "-p", f"rt_bob_{_name()}", "check")
    assert out.returncode == 2 and "not a valid namespace" in out.stderr and "-p rt-bob-" in out.stderr


def test_class5_6_colliding_names_stay_apart_and_down_v_leaves_other_users_volumes(gateway, tmp_path, projects):
    tag = _name()
    a, b = f"rt-{tag}", f"rt-{tag}-x"  # a's volume x-data and b's volume data once both became rt-<tag>-x-data
    projects += [("alice", a), ("bob", b)]
    write = "    command: [sh, -c, 'echo {who} > /v/who; sleep 600']\n"
    ca = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{write.format(who='alice')}"
                            "    volumes: ['x-data:/v']\nvolumes:\n  x-data: {}\n", "a.yaml")
    cb = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{write.format(who='bob')}"
                            "    volumes: ['data:/v']\nvolumes:\n  data: {}\n", "b.yaml")
    # bob first: his volume exists while alice's first check and up run (the OR'ed label filter refused them)
    assert gateway.spin("-f", str(cb), "-p", b, "up", "--wait", "--timeout", "60", user="bob").returncode == 0
    check = gateway.spin("-f", str(ca), "-p", a, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    up = gateway.spin("-f", str(ca), "-p", a, "up", "--wait", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    assert _read(f"{a}_app-app", "/v/who") == "alice"
    assert _read(f"{b}_app-app", "/v/who") == "bob"
    vols = {v["Name"]: v["Labels"]["spin.io/project"] for v in _json("volume", "ls")
            if v["Name"] in (f"{a}_x-data", f"{b}_data")}
    assert vols == {f"{a}_x-data": a, f"{b}_data": b}
    # every verb of one user leaves the other's project alone
    for verb in (["ps"], ["logs"], ["down", "-v"]):
        assert gateway.spin("-p", a, *verb).returncode == 0
    assert _read(f"{b}_app-app", "/v/who") == "bob"
    assert f"{b}_data" in {v["Name"] for v in _json("volume", "ls")}
    # and bob cannot touch alice's project by naming it
    gateway.spin("-f", str(ca), "-p", a, "up", "--wait", "--timeout", "60")
    assert gateway.spin("-p", a, "down", "-v", user="mallory").returncode != 0
    assert _json("pod", "ps", "--filter", f"label=spin.io/project={a}") != []


def test_class5_a_podman_volume_someone_else_made_with_the_name_is_never_used(gateway, tmp_path, projects):
    project = f"own-{_name()}"
    projects.append(("alice", project))
    squatter = f"{project}_data"
    subprocess.run(["podman", "volume", "create", "--label", "spin.io/project=someone-else", squatter], check=True,
                   capture_output=True)
    try:
        compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}"
                                     "    volumes: ['data:/v']\nvolumes:\n  data: {}\n")
        up = gateway.spin("-f", str(compose), "-p", project, "up")
        assert up.returncode == 4 and "is not project" in up.stderr, up.stdout + up.stderr
        assert _json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []
    finally:
        subprocess.run(["podman", "volume", "rm", "-f", squatter], capture_output=True)


# -- class 10: secrets on the host ----------------------------------------------------------------

def test_class10_secrets_live_under_the_state_dir_readable_only_by_the_pods_user(gateway, tmp_path, projects):
    (tmp_path / "pw.txt").write_text("s3cret")
    project = f"sec-{_name()}"
    projects.append(("alice", project))
    compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}    user: '1001:1001'\n"
                                 "    secrets: [pw]\nsecrets:\n  pw: {file: ./pw.txt}\n")
    up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    root = gateway.state / "podman-files"
    files = [p for p in (root / project).rglob("*") if p.is_file()]
    assert files, f"no secret files under {root}"
    for path in files:
        st = path.stat()
        assert st.st_mode & 0o777 in (0o400, 0o440) and (st.st_uid, st.st_gid) == (1001, 1001), path
    for folder in (root, root / project):
        assert folder.stat().st_mode & 0o777 == 0o700
    assert not Path("/var/lib/spin/podman-files", project).exists()
    assert _read(f"{project}_app-app", "/run/secrets/pw") == "s3cret"


# -- class 11: symlinks --------------------------------------------------------------------------

def test_class11_a_symlink_in_ones_home_to_another_home_is_refused_at_apply(gateway, tmp_path, home, projects):
    mine, theirs = home("alice"), home("bob", mode=0o700)
    (theirs / "private").write_text("bob's")
    link = mine / "link"
    link.symlink_to(theirs)
    project = f"lnk-{_name()}"
    projects.append(("alice", project))
    compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}    volumes: ['{link}:/data']\n")
    up = gateway.spin("-f", str(compose), "-p", project, "up")
    assert up.returncode == 2 and "symbolic link" in up.stderr, up.stdout + up.stderr
    assert _json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []


# -- class 12: networks --------------------------------------------------------------------------

def _ip(container: str, network: str) -> str:
    data = _json("container", "inspect", container)
    return data[0]["NetworkSettings"]["Networks"][network]["IPAddress"]


def _reach(container: str, target: str) -> bool:
    # busybox 1.35's wget crashes with -T, so the time limit is timeout's; every "cannot reach" below has a
    # "can reach" beside it, so a probe that never works would fail the test rather than pass it.
    proc = subprocess.run(["podman", "exec", container, "timeout", "5", "wget", "-q", "-O", "/dev/null",
                           f"http://{target}:8080/"], capture_output=True, text=True, timeout=60)
    return proc.returncode == 0


def test_class12_projects_and_compose_networks_cannot_reach_each_other(gateway, tmp_path, projects):
    a, b = f"neta-{_name()}", f"netb-{_name()}"
    projects += [("alice", a), ("bob", b)]
    serve = "    command: [sh, -c, 'mkdir -p /w && echo hi > /w/index.html && httpd -f -p 8080 -h /w']\n"
    ca = _compose(tmp_path, "services:\n"
                            f"  web:\n    image: {IMAGE}\n{serve}    networks: [front]\n"
                            f"  db:\n    image: {IMAGE}\n{serve}    networks: [back]\n"
                            f"  app:\n    image: {IMAGE}\n{serve}    networks: [front]\n"
                            "networks:\n  front: {}\n  back: {}\n", "a.yaml")
    cb = _compose(tmp_path, f"services:\n  probe:\n    image: {IMAGE}\n{serve}", "b.yaml")
    up = gateway.spin("-f", str(ca), "-p", a, "up", "--wait", "--timeout", "90")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "enforced" in up.stdout
    assert gateway.spin("-f", str(cb), "-p", b, "up", "--wait", "--timeout", "60", user="bob").returncode == 0
    web_ip = _ip(f"{a}_web-web", f"spin_{a}_front")
    db_ip = _ip(f"{a}_db-db", f"spin_{a}_back")
    assert _reach(f"{a}_app-app", "web") and _reach(f"{a}_app-app", web_ip)  # members reach each other
    assert _reach(f"{a}_db-db", db_ip)  # the server answers on its address
    assert not _reach(f"{a}_app-app", db_ip) and not _reach(f"{a}_app-app", "db")  # not across compose networks
    assert not _reach(f"{b}_probe-probe", web_ip) and not _reach(f"{b}_probe-probe", "web")  # nor across projects
    probe_ip = _ip(f"{b}_probe-probe", f"spin_{b}_default")
    assert _reach(f"{b}_probe-probe", probe_ip) and not _reach(f"{a}_app-app", probe_ip)


def test_class12_a_service_on_two_networks_is_refused_on_podman_with_the_reason(gateway, tmp_path, projects):
    project = f"two-{_name()}"
    projects.append(("alice", project))
    compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}    networks: [front, back]\n"
                                 "networks:\n  front: {}\n  back: {}\n")
    up = gateway.spin("-f", str(compose), "-p", project, "up")
    assert up.returncode == 2 and "several compose networks" in up.stderr, up.stdout + up.stderr
    assert _json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []


def test_class12_a_network_policy_podman_cannot_enforce_is_refused_with_the_reason(gateway, tmp_path, projects):
    project = f"int-{_name()}"
    projects.append(("alice", project))
    compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}    networks: [inside]\n"
                                 "networks:\n  inside: {internal: true}\n")
    up = gateway.spin("-f", str(compose), "-p", project, "up")
    assert up.returncode == 2 and "cannot enforce" in up.stderr, up.stdout + up.stderr
    assert _json("pod", "ps", "--filter", f"label=spin.io/project={project}") == []


# -- the read-back: spin ps shows what runs, compared with the decision -------------------------

def test_ps_shows_every_pod_verified_against_its_decision(gateway, tmp_path, projects):
    project = f"ver-{_name()}"
    projects.append(("alice", project))
    compose = _compose(tmp_path, f"services:\n  app:\n    image: {IMAGE}\n{SLEEP}    user: '1001:1001'\n"
                                 "    read_only: true\n    cap_drop: [ALL]\n    security_opt: [no-new-privileges:true]\n")
    up = gateway.spin("-f", str(compose), "-p", project, "up", "--wait", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    ps = json.loads(gateway.spin("-p", project, "ps", "--json").stdout)
    services = ps["services"] if isinstance(ps, dict) else ps
    assert [s["verified"] for s in services] == ["as decided"]
    status = _status(f"{project}_app-app")
    assert status["Uid"].split()[:2] == ["1001", "1001"] and int(status["CapEff"], 16) == 0
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"


def test_drift_stops_the_project_and_names_the_difference(tmp_path, podman_ready):
    """A pod that runs with more than its decision (here: decided non-root, run as root by hand, as a
    backend bug or a hand on the machine would) is stopped, and the difference is named."""
    from spin_gateway.backends.base import ProjectRef
    from spin_gateway.backends.podman import PodmanBackend
    from spin_gateway.vocabulary.errors import RuntimeDrift

    ref = ProjectRef(f"drift-{_name()}", "", "alice", "astro")
    ref = ProjectRef(ref.project, ref.project, "alice", "astro")
    name = f"{ref.namespace}_app"
    labels = ["--label", "app.kubernetes.io/managed-by=spin", "--label", f"spin.io/project={ref.project}",
              "--label", "spin.io/facility-project=astro"]
    subprocess.run(["podman", "pod", "create", *labels, "--name", name], check=True, capture_output=True)
    try:
        subprocess.run(["podman", "run", "-d", "--pod", name, "--name", f"{name}-app", "--cap-add", "SYS_PTRACE",
                        IMAGE, "sleep", "600"], check=True, capture_output=True)
        backend = PodmanBackend(state_dir=tmp_path)
        decided = {"spec": {"containers": [{"name": "app", "image": IMAGE, "securityContext": {
            "runAsUser": 1001, "runAsGroup": 1001, "capabilities": {"drop": ["ALL"]}}}]},
            "ports": [], "networks": [], "owners": {}}
        with pytest.raises(RuntimeDrift) as raised:
            backend._verify_or_stop(ref, [(name, decided)])
        message = raised.value.message
        assert "runs as uid 0, decided 1001" in message and "SYS_PTRACE" in message
        state = _json("pod", "inspect", name)
        assert (state[0] if isinstance(state, list) else state)["State"] in ("Exited", "Stopped")
    finally:
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", name], capture_output=True)
