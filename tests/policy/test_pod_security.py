"""The Kubernetes Pod Security Standards, held by test (issue 9).

Every fixture of the Pod Security Admission controller (../shared/corpus/pod-security)
goes through `spin policy eval --json`, one call per folder, with site data made
from the example site plus the fixtures' registry (registry.k8s.io):

- baseline holds whatever the site says: every baseline/fail Pod is refused by a
  rule naming its check, every baseline/pass Pod admitted;
- with `pod_security: restricted` (or the project listed under pod_security_projects)
  every restricted/fail Pod is refused and every restricted/pass Pod admitted.

Two sites are used. The "profile" site widens the one site knob stricter than the
standard (the capabilities allowlist) to the standard's own set and the caller has
uid 1000, so the profile is measured alone: there the only refusal of a pass Pod is
the Windows one (the platform runs Linux). The example site keeps its own rules,
and where they are stricter than the standard, SITE_STRICTER says so case by case.
Where an admitted Pod passes only with a patch the library applies (uid-mapping,
no-escalation), the patch is checked.
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
    ("restricted", "runasuser0.yaml"): (
        "uid-mapping", "runs as uid 1000; workloads run as the caller (alice, uid 1001)"),
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
    result = CliRunner().invoke(app, ["policy", "eval", str(batch), "--as-user", user, "--users", str(users),
                                      "--policy-dir", str(ROOT / "rego"), "--site-data", str(site), "--json"])
    assert result.exit_code in (0, 1), result.output
    decisions = json.loads(result.stdout)
    assert len(decisions) == len(paths)
    return {p.name: d for p, d in zip(paths, decisions)}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pss")


@pytest.fixture(scope="module")
def pss_user(work) -> Path:
    """A caller with uid 1000, the uid the restricted fixtures run as."""
    users = yaml.safe_load((ROOT / "examples/users.yaml").read_text())
    users["users"] = {"pss": {"uid": 1000, "gid": 1000, "groups": [{"name": "astro", "gid": 5001}]}}
    path = work / "users.yaml"
    path.write_text(yaml.safe_dump(users))
    return path


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
def profile_decisions(work, pss_user) -> dict[tuple[str, str], dict[str, dict]]:
    """The pass fixtures where the site goes no further than the standard (see the module docstring)."""
    out = {}
    for level in LEVELS:
        site = site_data(work, f"profile-{level}", pod_security=level, capabilities=PSS_DEFAULT_CAPABILITIES)
        out[level, "pass"] = evaluate(fixtures(level, "pass"), site, work, user="pss", users=pss_user)
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
def test_admitted_fixtures_carry_the_library_patches(level, example_decisions):
    """uid-mapping runs the pod as the caller; no-escalation turns privilege escalation off where it is unset."""
    checked = 0
    for path in fixtures(level, "pass"):
        decision = example_decisions[level, "pass"][path.name]
        if not decision["allowed"]:
            continue
        pod = yaml.safe_load(path.read_text())
        patches = {(p["op"], p["path"]): p.get("value") for p in decision["patches"]}
        sets_user = "runAsUser" in (pod["spec"].get("securityContext") or {}) or any(
            "runAsUser" in (c.get("securityContext") or {}) for _, c in containers_of(pod))
        if not sets_user:
            assert patches.get(("add", "/spec/securityContext/runAsUser")) == ALICE_UID, f"{path.name}: {decision['patches']}"
        for where, c in containers_of(pod):
            if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is None:
                assert patches.get(("add", f"{where}/securityContext/allowPrivilegeEscalation")) is False, (
                    f"{path.name}: {where} has no allowPrivilegeEscalation and no patch setting it false: {decision['patches']}")
        checked += 1
    assert checked >= len(fixtures(level, "pass")) - 2


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
                     f" (+{declared} refused on purpose), agreement {agree}/{len(fails) + len(passes)}"
                     f" = {100 * agree / (len(fails) + len(passes)):.0f} %; on the example site {on_site}/{len(passes)}"
                     " pass admitted (the rest refused by documented stricter site rules)")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert all("= 100 %" in line for line in lines), "\n".join(lines)
