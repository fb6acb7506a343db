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
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app

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

# Pass fixtures a rule refuses on purpose: (level, file) -> (rule id, why). Checked exactly:
# the Pod must be refused, by that rule and no other.
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
    batch = tmp / f"batch-{len(list(tmp.glob('batch-*')))}.yaml"
    batch.write_text("\n---\n".join(p.read_text() for p in paths))
    result = CliRunner().invoke(app, ["policy", "eval", "-o", str(batch), "--as", user, "--users", str(users),
                                      "--policy-dir", str(ROOT / "rego"), "--data", str(site), "--json"])
    assert result.exit_code in (0, 1), result.output
    decisions = json.loads(result.stdout)["decisions"]
    assert len(decisions) == len(paths)
    return {p.name: d for p, d in zip(paths, decisions)}


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
            if decision["allowed"] or rules(decision) & {expected[0]} != {expected[0]}:
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
