"""The Kubernetes Pod Security Standards, held by test (issue 9).

Every fixture of the Pod Security Admission controller (../shared/corpus/pod-security)
goes through `spin policy eval --json`, one call per folder, with site data made
from the example site plus the fixtures' registry (registry.k8s.io):

- baseline holds whatever the site says: every baseline/fail Pod is refused by a
  rule naming its check, every baseline/pass Pod admitted;
- with `pod_security: restricted` (or the project listed under pod_security_projects)
  every restricted/fail Pod is refused and every restricted/pass Pod admitted.

Two sites are used. The "profile" site widens the one site knob stricter than the
standard for these Pods (the capabilities allowlist) to the standard's own set, so
the profile is measured alone: there the only refusal of a pass Pod is the Windows
one (the platform runs Linux). The example site keeps its own rules, and where
they are stricter than the standard, SITE_STRICTER says so case by case.
Admitted Pods carry the no-escalation patch (allowPrivilegeEscalation false where
unset), which is checked; uid-mapping patches only workloads that mount the global
file system, which no fixture does, so one fixture is given such a mount and
checked at both levels.

The same fixtures also go through the gateway (FastAPI TestClient, manifests
backend) as compose projects, where compose can express them (see below).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spin_gateway.cli.main import app

ROOT = Path(__file__).resolve().parents[2]

# The fixtures live beside the repository (../shared/corpus), not in it: they come from a public repository.
# SPIN_PSA_CORPUS points elsewhere; without the corpus the tests below fail rather than pass empty.
CORPUS = Path(os.environ.get("SPIN_PSA_CORPUS") or ROOT.parent / "shared/corpus/pod-security")
if not CORPUS.is_dir() and "SPIN_PSA_CORPUS" not in os.environ:
    CORPUS = Path("/work/shared/corpus/pod-security")

LEVELS = ("baseline", "restricted")


def fixtures(level: str, verdict: str) -> list[Path]:
    folder = CORPUS / level / verdict
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def check_of(path: Path) -> str:
    """capabilities_baseline3.yaml -> capabilities_baseline; the file name says which check it exercises."""
    return re.sub(r"\d+$", "", path.stem)


# Rule ids accepted as naming each check of the standard. Where a site rule already refuses
# the check (privileged, host namespaces and ports, hostPath) its id is the name; the
# restricted variant of a check may refuse its baseline fixtures too, as the standard's
# own restricted checks replace the baseline ones.
CHECK_RULES: dict[str, set[str]] = {
    "privileged": {"no-privileged"},
    "hostnamespaces": {"host-namespaces"},
    "hostports": {"host-namespaces"},
    "hostpathvolumes": {"volumes", "global-fs", "pss-restricted-volumes"},
    "capabilities_baseline": {"pss-capabilities-baseline", "capabilities", "pss-capabilities-restricted"},
    "capabilities_restricted": {"pss-capabilities-restricted"},
    "procmount": {"pss-proc-mount", "pss-proc-mount-restricted"},
    "procmount_restricted": {"pss-proc-mount-restricted"},
    "seccompprofile_baseline": {"pss-seccomp"},
    "seccompprofile_restricted": {"pss-seccomp-restricted", "pss-seccomp"},
    "selinuxoptions": {"pss-selinux"},
    "sysctls": {"pss-sysctls"},
    "apparmorprofile": {"pss-apparmor"},
    "windowshostprocess": {"pss-windows-host-process"},
    "hostprobesandhostlifecycle": {"pss-host-probes"},
    "allowprivilegeescalation": {"pss-allow-privilege-escalation"},
    "runasnonroot": {"pss-run-as-non-root"},
    "runasuser": {"pss-run-as-user"},
    "restrictedvolumes": {"pss-restricted-volumes"},
}

# Pass fixtures a rule refuses on purpose: (level, file) -> (rule id, why). Checked:
# the Pod must be refused, with that rule among the reasons.
PROFILE_REFUSES = {
    ("restricted", "base_windows.yaml"): ("pss-linux-only", "a Windows pod; the platform runs Linux containers only"),
}
SITE_STRICTER = {
    **PROFILE_REFUSES,
    ("baseline", "capabilities_baseline0.yaml"): (
        "capabilities", "adds AUDIT_WRITE, FSETID, MKNOD, SETFCAP, SETPCAP and SYS_CHROOT, outside the example site's allowlist"),
}

ALICE_UID = 1001  # examples/users.yaml
PSS_DEFAULT_CAPABILITIES = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                            "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]


def site_data(tmp: Path, name: str, **changes) -> Path:
    """The example site, with the fixtures' registry added and the given keys set."""
    site = yaml.safe_load((ROOT / "rego/site.yaml").read_text()) or {}
    site["registries"] = [*site.get("registries", []), "registry.k8s.io"]
    site.update(changes)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def evaluate(paths: list[Path], site: Path, tmp: Path, *, user: str = "alice",
             users: Path = ROOT / "examples/users.yaml") -> dict[str, dict]:
    """One `spin policy eval --json` over all the files; file name -> decision."""
    assert paths and all(p.is_file() for p in paths), f"the Pod Security Standards fixtures are not at {CORPUS}: set SPIN_PSA_CORPUS"
    batch = tmp / f"batch-{len(list(tmp.glob('batch-*')))}.yaml"
    batch.write_text("\n---\n".join(p.read_text() for p in paths))
    result = CliRunner().invoke(app, ["policy", "eval", "-o", str(batch), "--as", user, "--users", str(users),
                                      "--policy-dir", str(ROOT / "rego"), "--data", str(site), "--json"])
    assert result.exit_code in (0, 1), result.output
    decisions = json.loads(result.stdout)["decisions"]
    assert len(decisions) == len(paths)
    return {p.name: d for p, d in zip(paths, decisions, strict=True)}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pss")


@pytest.fixture(scope="module")
def example_decisions(work) -> dict[tuple[str, str], dict[str, dict]]:
    """Each level's fixtures on the example site with that level switched on, as alice."""
    out = {}
    for level in LEVELS:
        site = site_data(work, f"example-{level}", pod_security=level)
        for verdict in ("fail", "pass"):
            out[level, verdict] = evaluate(fixtures(level, verdict), site, work)
    return out


@pytest.fixture(scope="module")
def profile_decisions(work) -> dict[tuple[str, str], dict[str, dict]]:
    """The pass fixtures where the site goes no further than the standard (see the module docstring)."""
    out = {}
    for level in LEVELS:
        site = site_data(work, f"profile-{level}", pod_security=level, capabilities=PSS_DEFAULT_CAPABILITIES)
        out[level, "pass"] = evaluate(fixtures(level, "pass"), site, work)
    return out


def rules(decision: dict) -> set[str]:
    return {v["rule"] for v in decision["violations"]}


def test_the_corpus_is_there():
    counts = {(lvl, v): len(fixtures(lvl, v)) for lvl in LEVELS for v in ("fail", "pass")}
    assert counts == {("baseline", "fail"): 34, ("baseline", "pass"): 15,
                      ("restricted", "fail"): 76, ("restricted", "pass"): 23}, (
        f"the Pod Security Standards fixtures were not found (or changed) at {CORPUS}: set SPIN_PSA_CORPUS; found {counts}")
    unknown = {check_of(p) for lvl in LEVELS for p in fixtures(lvl, "fail")} - set(CHECK_RULES)
    assert not unknown, f"fixtures for checks this test does not map to rule ids: {unknown}"


@pytest.mark.parametrize("level", LEVELS)
def test_every_fail_fixture_is_refused_by_a_rule_naming_its_check(level, example_decisions):
    wrong = {}
    for path in fixtures(level, "fail"):
        decision = example_decisions[level, "fail"][path.name]
        accepted = CHECK_RULES[check_of(path)]
        if decision["allowed"] or not rules(decision) & accepted:
            wrong[path.name] = f"allowed={decision['allowed']} rules={sorted(rules(decision))}, expected one of {sorted(accepted)}"
    assert not wrong, f"{level}/fail: {len(wrong)} not refused by their check:\n" + "\n".join(f"  {k}: {v}" for k, v in wrong.items())


@pytest.mark.parametrize("level", LEVELS)
def test_every_pass_fixture_is_admitted_where_the_site_goes_no_further(level, profile_decisions):
    wrong = {}
    for path in fixtures(level, "pass"):
        decision = profile_decisions[level, "pass"][path.name]
        expected = PROFILE_REFUSES.get((level, path.name))
        if expected:
            if decision["allowed"] or expected[0] not in rules(decision):
                wrong[path.name] = f"expected refusal by {expected[0]} ({expected[1]}), got {sorted(rules(decision))}"
        elif not decision["allowed"]:
            wrong[path.name] = "; ".join(f"[{v['rule']}] {v['message']}" for v in decision["violations"])
    assert not wrong, f"{level}/pass: {len(wrong)} wrong:\n" + "\n".join(f"  {k}: {v}" for k, v in wrong.items())


@pytest.mark.parametrize("level", LEVELS)
def test_on_the_example_site_pass_fixtures_are_admitted_or_refused_only_by_a_documented_stricter_rule(
        level, example_decisions):
    wrong = {}
    for path in fixtures(level, "pass"):
        decision = example_decisions[level, "pass"][path.name]
        expected = SITE_STRICTER.get((level, path.name))
        if expected is None and not decision["allowed"]:
            wrong[path.name] = "refused: " + "; ".join(f"[{v['rule']}] {v['message']}" for v in decision["violations"])
        elif expected and (decision["allowed"] or expected[0] not in rules(decision)):
            wrong[path.name] = f"expected refusal by {expected[0]} ({expected[1]}), got allowed={decision['allowed']} {sorted(rules(decision))}"
    assert not wrong, f"{level}/pass on the example site:\n" + "\n".join(f"  {k}: {v}" for k, v in wrong.items())


def containers_of(pod: dict) -> list[tuple[str, dict]]:
    return [(f"/spec/{field}/{i}", c) for field in ("initContainers", "containers", "ephemeralContainers")
            for i, c in enumerate(pod["spec"].get(field) or [])]


@pytest.mark.parametrize("level", LEVELS)
def test_admitted_fixtures_carry_the_no_escalation_patch(level, example_decisions):
    """Where a container leaves allowPrivilegeEscalation unset, the library sets it to false."""
    admitted = 0
    for path in fixtures(level, "pass"):
        decision = example_decisions[level, "pass"][path.name]
        if not decision["allowed"]:
            continue
        admitted += 1
        patches = {(p["op"], p["path"]): p.get("value") for p in decision["patches"]}
        for where, c in containers_of(yaml.safe_load(path.read_text())):
            if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is None:
                assert patches.get(("add", f"{where}/securityContext/allowPrivilegeEscalation")) is False, (
                    f"{path.name}: {where} leaves allowPrivilegeEscalation unset and no patch sets it false: {decision['patches']}")
            else:
                assert ("add", f"{where}/securityContext/allowPrivilegeEscalation") not in patches
    assert admitted == len(fixtures(level, "pass")) - sum(1 for lvl, _ in SITE_STRICTER if lvl == level)


def with_global_mount(path: Path) -> dict:
    pod = yaml.safe_load(path.read_text())
    pod["spec"]["volumes"] = [{"name": "cfs", "hostPath": {"path": "/global/cfs/projects/astro"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfs", "mountPath": "/cfs"}]
    return pod


def test_a_global_file_system_mount_is_baseline_with_the_uid_patch_and_refused_under_restricted(work):
    """The example site lets alice mount her project's global file system (a hostPath the baseline
    standard refuses: the site goes beyond the standard here, on purpose) and runs the pod as her;
    under restricted the stricter standard wins and the mount is refused."""
    pod_file = work / "global-mount.yaml"
    pod_file.write_text(yaml.safe_dump(with_global_mount(CORPUS / "restricted/pass/base.yaml")))
    baseline = evaluate([pod_file], site_data(work, "global-baseline", pod_security="baseline"), work)
    decision = baseline[pod_file.name]
    assert decision["allowed"], decision["violations"]
    patches = {(p["op"], p["path"]): p.get("value") for p in decision["patches"]}
    assert patches[("add", "/spec/securityContext/runAsUser")] == ALICE_UID

    restricted = evaluate([pod_file], site_data(work, "global-restricted", pod_security="restricted"), work)
    decision = restricted[pod_file.name]
    assert not decision["allowed"]
    assert {(v["rule"], v["path"]) for v in decision["violations"]} == {("pss-restricted-volumes", "/spec/volumes/0/hostPath")}


def test_the_example_site_without_the_fixtures_registry_refuses_them_by_registries_alone(work):
    """Registries are a site rule stricter than the standard: the fixtures' registry.k8s.io is not one of the
    example site's, so there a Pod the standard admits is refused, by `registries` and nothing else."""
    site = work / "example-as-is.yaml"
    site.write_text((ROOT / "rego/site.yaml").read_text())
    decision = evaluate([CORPUS / "baseline/pass/base.yaml"], site, work)["base.yaml"]
    assert not decision["allowed"] and rules(decision) == {"registries"}, decision["violations"]


# Who chooses the profile: (site keys, fixture, expected rule ids refusing it, or set() if admitted). alice files
# her projects under the facility project astro (examples/users.yaml).
CHOICES = {
    "site asks for restricted": ({"pod_security": "restricted"}, "restricted/fail/runasnonroot0.yaml", {"pss-run-as-non-root"}),
    "site says nothing: baseline": ({}, "restricted/fail/runasnonroot0.yaml", set()),
    "alice's project listed as restricted": (
        {"pod_security": "baseline", "pod_security_projects": {"astro": "restricted"}}, "restricted/fail/runasnonroot0.yaml",
        {"pss-run-as-non-root"}),
    "another project listed": (
        {"pod_security_projects": {"climate": "restricted"}}, "restricted/fail/runasnonroot0.yaml", set()),
    "alice's project exempted on a restricted site": (
        {"pod_security": "restricted", "pod_security_projects": {"astro": "baseline"}}, "restricted/fail/runasnonroot0.yaml", set()),
    "a misspelt profile is restricted": ({"pod_security": "restrictd"}, "restricted/fail/runasnonroot0.yaml", {"pss-run-as-non-root"}),
    "baseline holds when the site allowlist adds NET_RAW": (
        {"pod_security": "baseline", "capabilities": ["NET_RAW"]}, "baseline/fail/capabilities_baseline0.yaml",
        {"pss-capabilities-baseline"}),
    "baseline holds on a site asking for no profile": (
        {"pod_security_projects": {"astro": "baseline"}}, "baseline/fail/sysctls0.yaml", {"pss-sysctls"}),
}


@pytest.mark.parametrize("case", CHOICES)
def test_who_chooses_the_profile(case, work):
    changes, fixture, refused_by = CHOICES[case]
    site = site_data(work, re.sub(r"\W+", "-", case), **changes)
    if not changes:  # the example site with no pod_security key at all
        raw = yaml.safe_load(site.read_text())
        raw.pop("pod_security", None)
        site.write_text(yaml.safe_dump(raw))
    decision = evaluate([CORPUS / fixture], site, work)[Path(fixture).name]
    assert rules(decision) == refused_by and decision["allowed"] == (not refused_by), decision["violations"]
    if case == "a misspelt profile is restricted":
        assert all("restrictd" in v["message"] and "does not exist" in v["message"] for v in decision["violations"])


def test_agreement_per_level(example_decisions, profile_decisions, capsys):
    lines = []
    for level in LEVELS:
        fails = fixtures(level, "fail")
        refused = sum(1 for p in fails if not example_decisions[level, "fail"][p.name]["allowed"]
                      and rules(example_decisions[level, "fail"][p.name]) & CHECK_RULES[check_of(p)])
        passes = fixtures(level, "pass")
        admitted = sum(1 for p in passes if profile_decisions[level, "pass"][p.name]["allowed"])
        declared = sum(1 for p in passes if (level, p.name) in PROFILE_REFUSES
                       and not profile_decisions[level, "pass"][p.name]["allowed"])
        on_site = sum(1 for p in passes if example_decisions[level, "pass"][p.name]["allowed"])
        agree = refused + admitted + declared
        lines.append(f"PSS {level}: fail refused by their check {refused}/{len(fails)}, pass admitted {admitted}/{len(passes)}"
                     f" (+{declared} Windows refused: the platform runs Linux), agreement {agree}/{len(fails) + len(passes)}"
                     f" = {100 * agree / (len(fails) + len(passes)):.0f} %; on the example site {on_site}/{len(passes)}"
                     " pass admitted (the rest refused by documented stricter site rules)")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert all("= 100 %" in line for line in lines), "\n".join(lines)


# -- the gateway path: a compose project that produces the fixture's pod spec ---------------------------------------
#
# Each container of the fixture becomes a service (init containers too: compose has none, and every check of the
# standard holds container by container); pod-level settings go to every service. A field compose cannot express
# makes the fixture inexpressible, except two kinds of field that may be left out:
#   NEUTRAL - no check looks at it (a containerPort, a probe without a host, procMount Default, an emptyDir);
#   SECURE  - the secure choice (runAsNonRoot true, a RuntimeDefault or Localhost seccomp profile): leaving it out
#             can only add refusals, so a fail fixture stays a fail fixture, but a pass fixture would no longer be
#             the same Pod and is counted inexpressible.

class Inexpressible(Exception):
    pass


def _security_opts(sc: dict, where: str, drops: set[str]) -> tuple[list[str], dict]:
    opts, service = [], {}
    for key, value in sc.items():
        if key == "privileged":
            service["privileged"] = value
        elif key == "allowPrivilegeEscalation":
            if value is not False:
                raise Inexpressible(f"{where}.allowPrivilegeEscalation: {value}")
            opts.append("no-new-privileges:true")
        elif key == "runAsUser":
            service["user"] = str(value)
        elif key == "runAsNonRoot":
            if value is not True:
                raise Inexpressible(f"{where}.runAsNonRoot: {value}")
            if not isinstance(sc.get("runAsUser"), int) or sc["runAsUser"] == 0:
                drops.add("SECURE")  # the translator says runAsNonRoot only beside a non-zero user
        elif key == "seccompProfile":
            if value.get("type") == "Unconfined":
                opts.append("seccomp:unconfined")
            elif value.get("type") == "RuntimeDefault":
                pass  # what the translator writes for every unprivileged service: Docker's default
            elif value.get("type") == "Localhost":
                drops.add("SECURE")
            else:
                raise Inexpressible(f"{where}.seccompProfile: {value}")
        elif key == "seLinuxOptions":
            opts += [f"label:{field}:{v}" for field, v in value.items()]
        elif key == "capabilities":
            for field, names in value.items():
                if any(not re.fullmatch(r"[A-Z_]+", n) or n.startswith("CAP_") for n in names):
                    raise Inexpressible(f"{where}.capabilities.{field}: {names} (compose spells names its own way)")
                service["cap_drop" if field == "drop" else "cap_add"] = names
        elif key == "procMount" and value == "Default":
            drops.add("NEUTRAL")
        elif key == "windowsOptions" and not value:
            pass
        elif key == "sysctls":
            service["sysctls"] = {s["name"]: s["value"] for s in value}
        else:
            raise Inexpressible(f"{where}.{key}: {value}")
    return opts, service


def pod_to_compose(pod: dict, project: str) -> tuple[dict, set[str]]:
    """The compose project of a fixture Pod, and which kinds of field were left out."""
    spec, drops = pod["spec"], set()
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    pod_opts, pod_service = _security_opts(spec.get("securityContext") or {}, "spec.securityContext", drops)
    binds = []
    for volume in spec.get("volumes") or []:
        if set(volume) == {"name", "emptyDir"}:
            drops.add("NEUTRAL")
        elif set(volume) == {"name", "hostPath"}:
            binds.append({"type": "bind", "source": volume["hostPath"]["path"], "target": f"/mnt/{volume['name']}"})
        else:
            raise Inexpressible(f"volume {volume}")
    for key, value in spec.items():
        if key in ("hostNetwork", "hostPID", "hostIPC") and value:
            pod_service[{"hostNetwork": "network_mode", "hostPID": "pid", "hostIPC": "ipc"}[key]] = "host"
        elif key not in ("containers", "initContainers", "securityContext", "volumes"):
            raise Inexpressible(f"spec.{key}: {value}")
    services = {}
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            where = f"spec.{field}[{c['name']}]"
            opts, service = _security_opts(c.get("securityContext") or {}, f"{where}.securityContext", drops)
            profile = annotations.get(f"container.apparmor.security.beta.kubernetes.io/{c['name']}")
            if profile == "unconfined":
                opts.append("apparmor:unconfined")
            elif profile and profile.startswith("localhost/"):
                opts.append(f"apparmor:{profile.removeprefix('localhost/')}")
            elif profile:
                raise Inexpressible(f"apparmor annotation {profile}")
            for key, value in c.items():
                if key in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
                    if "host" in json.dumps(value):
                        raise Inexpressible(f"{where}.{key}: compose healthchecks are commands, with no host")
                    drops.add("NEUTRAL")
                elif key == "ports":
                    if any("hostPort" in p for p in value):
                        raise Inexpressible(f"{where}.ports: compose publishes ports through a Service, never a hostPort")
                    drops.add("NEUTRAL")
                elif key == "restartPolicy":
                    drops.add("NEUTRAL")
                elif key not in ("name", "image", "securityContext"):
                    raise Inexpressible(f"{where}.{key}")
            merged = {**pod_service, **service, "image": c["image"], "command": ["/pause"]}
            if pod_opts or opts:
                merged["security_opt"] = pod_opts + opts
            if binds:
                merged["volumes"] = binds
            services[c["name"].lower()] = merged
    # What the translator adds that the fixture may lack: Docker's default seccomp profile on every unprivileged
    # service, runAsNonRoot beside a non-zero numeric user. A fail fixture that fails for lacking exactly that
    # cannot be written in compose.
    pod_sc = spec.get("securityContext") or {}
    contexts = [c.get("securityContext") or {} for f in ("initContainers", "containers") for c in spec.get(f) or []]
    if "seccompProfile" not in pod_sc and not all("seccompProfile" in sc for sc in contexts):
        drops.add("ADDED_SECCOMP")
    if not any("runAsNonRoot" in sc for sc in [pod_sc, *contexts]) and any(
            str(svc.get("user", "0")).isdigit() and svc.get("user", "0") != "0" for svc in services.values()):
        drops.add("ADDED_NONROOT")
    return {"name": project, "services": services}, drops


# Fail fixtures the translator refuses before any policy, with the compose key it names (a 422, nothing deployed):
# host namespaces have no pod form here, and `othersysctl` is not a sysctl name at all.
TRANSLATOR_REFUSES = {
    "hostnamespaces": r"services\.\w+\.(network_mode|pid|ipc)\b",
    "sysctls": r"services\.\w+\.sysctls\.othersysctl",
}


def gateway_cases(level: str, verdict: str) -> list[tuple[Path, dict | None, str]]:
    assert fixtures(level, verdict), f"the Pod Security Standards fixtures are not at {CORPUS}: set SPIN_PSA_CORPUS"
    out = []
    for path in fixtures(level, verdict):
        project = f"{verdict}-{path.stem.replace('_', '-')}"
        try:
            compose, drops = pod_to_compose(yaml.safe_load(path.read_text()), project)
            if verdict == "pass" and "SECURE" in drops:
                raise Inexpressible("a secure setting compose cannot say (runAsNonRoot without a user, a Localhost "
                                    "seccomp profile)")
            if verdict == "fail" and check_of(path) == "seccompprofile_restricted" and "ADDED_SECCOMP" in drops:
                raise Inexpressible("compose always runs Docker's default seccomp profile: a Pod without one has no "
                                    "compose form")
            if verdict == "fail" and check_of(path) == "runasnonroot" and "ADDED_NONROOT" in drops:
                raise Inexpressible("a non-zero compose user is non-root by construction: the translator says so")
            out.append((path, compose, ""))
        except Inexpressible as exc:
            out.append((path, None, str(exc)))
    return out


@pytest.fixture(scope="module")
def gateways(work):
    """One gateway per level (manifests backend), on the profile site with that level on."""
    from fastapi.testclient import TestClient

    from spin_gateway.gateway_api.app import build_app
    from spin_gateway.gateway_api.settings import Settings

    out = {}
    for level in LEVELS:
        state = work / f"gateway-{level}"
        settings = Settings(backend="manifests", manifests_dir=state / "manifests", users=ROOT / "examples/users.yaml",
                            policy_dir=ROOT / "rego", audit_log=state / "audit.log", state_dir=state / "state",
                            policy_poll_seconds=0, site_data=site_data(work, f"gateway-{level}", pod_security=level,
                                                                       capabilities=PSS_DEFAULT_CAPABILITIES))
        app = build_app(settings)
        client = TestClient(app).__enter__()
        token, _ = app.state.signer.issue("alice")
        out[level] = (client, {"authorization": f"Bearer {token}"}, settings)
    yield out
    for client, _, _ in out.values():
        client.__exit__(None, None, None)


@pytest.mark.parametrize("level", LEVELS)
def test_through_the_gateway_fail_fixtures_are_refused_and_pass_fixtures_deployed(level, gateways, capsys):
    client, headers, settings = gateways[level]
    wrong, counts, by_translator = [], {}, 0
    for verdict in ("fail", "pass"):
        cases = gateway_cases(level, verdict)
        expressed = [(p, c) for p, c, _ in cases if c is not None]
        counts[verdict] = (len(expressed), len(cases))
        for path, compose in expressed:
            r = client.put(f"/v1/projects/{compose['name']}", json={"compose": compose}, headers=headers)
            body = r.json()
            written = (settings.manifests_dir / compose["name"]).is_dir()
            if verdict == "pass":
                if r.status_code != 200 or not written:
                    wrong.append(f"{verdict}/{path.name}: {r.status_code} {body.get('detail')}")
            elif r.status_code == 422 and check_of(path) in TRANSLATOR_REFUSES:
                by_translator += 1
                if not re.search(TRANSLATOR_REFUSES[check_of(path)], body["detail"]):
                    wrong.append(f"{verdict}/{path.name}: refused by the translator without naming the key: {body}")
            elif r.status_code != 403 or written:
                wrong.append(f"{verdict}/{path.name}: {r.status_code} {body.get('detail')} (written: {written})")
            else:
                found = {v["rule"] for d in body["data"]["decisions"] for v in d["violations"]}
                if not found & CHECK_RULES[check_of(path)]:
                    wrong.append(f"{verdict}/{path.name}: refused by {sorted(found)}, none naming {check_of(path)}")
    with capsys.disabled():
        print(f"\nPSS {level} through the gateway: {counts['fail'][0]}/{counts['fail'][1]} fail fixtures expressible in compose"
              f" and refused ({by_translator} by the translator, naming the key), {counts['pass'][0]}/{counts['pass'][1]} pass fixtures expressible and deployed")
    assert not wrong, "\n".join(wrong)
    assert counts["fail"][0] >= 10


def test_what_compose_cannot_express_is_said_per_fixture():
    """The gateway test's coverage, pinned, with the reason for every fixture compose cannot write."""
    reasons = {f"{lvl}/{v}/{p.name}": why for lvl in LEVELS for v in ("fail", "pass")
               for p, c, why in gateway_cases(lvl, v) if c is None}
    assert all(why for why in reasons.values())
    # restricted pass Pods with a RuntimeDefault profile and a non-zero user are compose services now
    assert [p for p, c, _ in gateway_cases("restricted", "pass") if c is not None]
    assert "baseline/fail/procmount0.yaml" in reasons and "baseline/fail/windowshostprocess0.yaml" in reasons
    assert "baseline/pass/base.yaml" not in reasons and "baseline/fail/sysctls0.yaml" not in reasons
    assert "Docker's default seccomp profile" in reasons["restricted/fail/seccompprofile_restricted0.yaml"]


def test_a_compose_service_written_for_restricted_is_admitted_under_restricted(gateways):
    """A service with a non-zero user, every capability dropped and no-new-privileges meets the restricted standard:
    the translator writes Docker's default seccomp profile and runAsNonRoot beside the numeric user."""
    service = {"image": "registry.k8s.io/pause", "command": ["/pause"], "user": "1001", "cap_drop": ["ALL"],
               "security_opt": ["no-new-privileges:true"]}
    compose = {"name": "careful", "services": {"web": service}}
    for level in ("restricted", "baseline"):
        client, headers, settings = gateways[level]
        r = client.put("/v1/projects/careful", json={"compose": compose}, headers=headers)
        assert r.status_code == 200, r.text
        written = [yaml.safe_load(p.read_text()) for p in (settings.manifests_dir / "careful").rglob("*.yaml")]
        sc = next(o for o in written if o.get("kind") == "Deployment")["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"] and sc["runAsUser"] == 1001
        assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}

    # as root, the same service is refused under restricted, naming the rule and what to set
    root = {"name": "careless", "services": {"web": {**service, "user": "0"}}}
    client, headers, settings = gateways["restricted"]
    r = client.put("/v1/projects/careless", json={"compose": root}, headers=headers)
    assert r.status_code == 403, r.text
    rules = {v["rule"] for d in r.json()["data"]["decisions"] for v in d["violations"]}
    assert "pss-run-as-non-root" in rules and "pss-seccomp-restricted" not in rules
    assert not (settings.manifests_dir / "careless").exists()
