"""`spin policy eval` against the API server's own PodSecurity admission, fixture by fixture.

Namespaces labelled pod-security.kubernetes.io/enforce=baseline and =restricted on
the suite's real API server (1.34) get every Pod of ../shared/corpus/pod-security and
a Pod of every workload of every translated compose corpus project, as server-side
dry-run creates: the API server's verdict. The promise checked, both ways:

- what the API server refuses, spin refuses too (never admitted by spin, refused at run time);
- what spin admits runs: the Pod as spin patched it is admitted by the API server;
- where spin refuses what the API server admits, the site is stricter, and the test
  names each such case (fixture) or each rule (corpus) with why.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonpatch
import pytest
import yaml
from typer.testing import CliRunner

from spin_gateway.cli.main import app
from spin_gateway.vocabulary.errors import KubeApiError
from tests.cluster.conftest import eventually
from tests.policy.test_pod_security import (
    CORPUS,
    LEVELS,
    PROFILE_REFUSES,
    PSS_DEFAULT_CAPABILITIES,
    SITE_STRICTER,
    fixtures,
    site_data,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_CORPUS = CORPUS.parent / "compose" / "awesome-compose"

# The fixtures are the standard as of Kubernetes 1.37 (their folder says v1.37); this API server is 1.34
# ("latest" means its own version). Where it is stricter than the standard spin holds, it is named here:
# spin admits these, 1.34's PodSecurity refuses them (the researcher gets the API server's refusal at `up`).
SERVER_STRICTER = {
    ("baseline", "procmount1.yaml"): "procMount Unmasked with hostUsers false: 1.34 refuses it at baseline",
    ("baseline", "sysctls1.yaml"): "net.ipv4.tcp_slow_start_after_idle and net.ipv4.tcp_notsent_lowat are not in "
                                   "1.34's safe sysctls",
    ("restricted", "sysctls1.yaml"): "net.ipv4.tcp_slow_start_after_idle and net.ipv4.tcp_notsent_lowat are not in "
                                     "1.34's safe sysctls",
}

# Spin refusals of corpus workloads the API server admits: site rules beyond the standard.
CORPUS_SITE_RULES = {
    "registries": "images only from the site's registries; the standard says nothing about images",
    "capabilities": "the site's capability allowlist is shorter than the standard's default set",
    "volumes": "only the site's volume types",
    "global-fs": "a hostPath under /global outside the caller's projects",
    "resources": "limits above the site's maxima",
    "services": "NodePort and LoadBalancer Services open the node",
    "uid-mapping": "on the global file system a workload runs as its caller",
    "annotations": "annotations the site has not declared harmless (traefik's routing labels, whose values are no "
                   "label values, become annotations); kubelets and podman act on some, so unknown ones are refused",
}


@pytest.fixture(scope="module")
def namespaces(kube):
    api = kube.admin()
    made = {}
    for level in LEVELS:
        name = f"spin-psa-{level}"
        api.request("POST", "/api/v1/namespaces", what="namespace", body={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
                "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "latest"}}})
        made[level] = name
    # The ServiceAccount admission plugin refuses pods until the namespace's default account exists.
    for name in made.values():
        assert eventually(lambda name=name: api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default", "read"),
                          timeout=30)
    yield made
    for name in made.values():
        api.request("DELETE", f"/api/v1/namespaces/{name}", what="clean up")


def server_admits(kube, namespace: str, pod: dict) -> tuple[bool, str]:
    """The API server's verdict on creating the Pod (dry run: nothing is stored)."""
    pod = copy.deepcopy(pod)
    pod.setdefault("metadata", {})["namespace"] = namespace
    pod["metadata"].pop("generateName", None)
    # The fixtures' names have underscores (capabilities_baseline0), which no object name may have.
    pod["metadata"]["name"] = re.sub(r"[^a-z0-9-]", "-", str(pod["metadata"].get("name", "pod")).lower())
    try:
        kube.admin().request("POST", f"/api/v1/namespaces/{namespace}/pods", what="dry-run create", body=pod,
                             query={"dryRun": "All"}, retry=False)
        return True, ""
    except KubeApiError as exc:
        if exc.status == 403 and "violates PodSecurity" in exc.message:
            return False, exc.message.split("violates PodSecurity", 1)[1]
        if exc.status == 422:
            # Validation runs before admission: e.g. procMount Unmasked needs hostUsers false on 1.34.
            return False, f" (refused by validation) {exc.message}"
        raise AssertionError(f"the API server refused {pod['metadata'].get('name')} for another reason: "
                             f"{exc.message}") from None


def spin_decisions(objects: list[dict], site: Path, tmp: Path, user: str = "alice") -> list[dict]:
    batch = tmp / f"batch-{len(list(tmp.glob('batch-*')))}.yaml"
    batch.write_text(yaml.safe_dump_all(objects))
    result = CliRunner().invoke(app, ["policy", "eval", "-o", str(batch), "--as", user, "--users",
                                      str(ROOT / "examples/users.yaml"), "--policy-dir", str(ROOT / "rego"),
                                      "--data", str(site), "--json"])
    assert result.exit_code in (0, 1), result.output
    decisions = json.loads(result.stdout)["decisions"]
    assert len(decisions) == len(objects)
    return decisions


def rules(decision: dict) -> set[str]:
    return {v["rule"] for v in decision["violations"]}


def patched(obj: dict, decision: dict) -> dict:
    return jsonpatch.apply_patch(obj, decision["patches"]) if decision["patches"] else obj


@pytest.mark.parametrize("site_kind", ["profile", "example"])
@pytest.mark.parametrize("level", LEVELS)
def test_every_pod_security_fixture_gets_the_api_servers_verdict(kube, namespaces, tmp_path, level, site_kind):
    extra = {"capabilities": PSS_DEFAULT_CAPABILITIES} if site_kind == "profile" else {}
    site = site_data(tmp_path, f"{site_kind}-{level}", pod_security=level, **extra)
    stricter = PROFILE_REFUSES if site_kind == "profile" else SITE_STRICTER
    paths = fixtures(level, "fail") + fixtures(level, "pass")
    assert len(paths) > 40, f"the Pod Security fixtures are not at {CORPUS}"
    pods = [yaml.safe_load(p.read_text()) for p in paths]
    decisions = spin_decisions(pods, site, tmp_path)
    wrong, said = [], []
    for path, pod, decision in zip(paths, pods, decisions, strict=True):
        admitted, why = server_admits(kube, namespaces[level], pod)
        case = (level, path.name) if path.parent.name == "pass" else None
        if decision["allowed"]:
            # What spin admits is what runs: the patched Pod must pass the API server too.
            ok, why_patched = server_admits(kube, namespaces[level], patched(pod, decision))
            if not ok and case in SERVER_STRICTER:
                said.append(f"{path.parent.name}/{path.name}: the 1.34 API server is stricter: {SERVER_STRICTER[case]}")
            elif not ok:
                wrong.append(f"{path.parent.name}/{path.name}: spin admits, the API server refuses the patched "
                             f"pod:{why_patched}")
            if not admitted and not decision["patches"]:
                wrong.append(f"{path.parent.name}/{path.name}: spin admits, the API server refuses:{why}")
        elif admitted:
            if case in stricter and stricter[case][0] in rules(decision):
                said.append(f"{path.parent.name}/{path.name}: the site is stricter: {stricter[case][1]}")
            else:
                wrong.append(f"{path.parent.name}/{path.name}: spin refuses {sorted(rules(decision))}, "
                             "the API server admits")
        elif case in stricter:
            wrong.append(f"{path.parent.name}/{path.name}: listed as stricter, but the API server refuses it too:{why}")
    print(f"\n{level} ({site_kind} site): {len(paths)} fixtures, {len(paths) - len(wrong)} agree or are "
          f"stricter by name" + "".join(f"\n  {line}" for line in said))
    assert not wrong, "\n".join(wrong)
    assert len(said) == sum(1 for lvl, _ in stricter if lvl == level) + sum(1 for lvl, _ in SERVER_STRICTER
                                                                            if lvl == level)


def corpus_workloads() -> list[tuple[str, dict]]:
    """(project/service, workload object) for every compose corpus project the translator takes."""
    from spin_gateway.compose_loader import load_project, validate_model
    from spin_gateway.gateway_api import planning
    from spin_gateway.translate import to_kubernetes
    from spin_gateway.vocabulary.errors import SpinError

    out = []
    for folder in sorted(p for p in COMPOSE_CORPUS.iterdir() if p.is_dir()):
        files = [folder / n for n in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
                 if (folder / n).exists()]
        if not files:
            continue
        project = re.sub(r"[^a-z0-9-]", "-", folder.name.lower())
        try:
            model = load_project(files[:1], project_name=project, environ={"HOME": "/root",
                                                                            "PLEX_MEDIA_PATH": "/srv/media"}).model
            labels = planning.project_labels(project, "alice", "astro")
            translation = to_kubernetes(validate_model(model), project=project, namespace=project, labels=labels)
        except SpinError:
            continue  # not translatable (a build-only service, a key with no Kubernetes form): nothing to admit
        for obj in translation.objects:
            if obj.get("kind") in ("Deployment", "StatefulSet", "Job"):
                # One `spin policy eval` decides them all as one project's calls: one namespace.
                obj["metadata"]["namespace"] = "spin-corpus"
                out.append((f"{folder.name}/{obj['metadata']['name']}", obj))
    return out


def pod_of(name: str, workload: dict) -> dict:
    template = workload["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": re.sub(r"[^a-z0-9-]", "-", name.lower())[:60].strip("-"),
                         "labels": template.get("metadata", {}).get("labels", {})},
            "spec": template["spec"]}


@pytest.mark.parametrize("site_kind", ["profile", "example"])
@pytest.mark.parametrize("level", LEVELS)
def test_every_translated_corpus_workload_gets_the_api_servers_verdict(kube, namespaces, tmp_path, level, site_kind):
    workloads = corpus_workloads()
    # 44 workloads of the corpus translate (the rest use keys with no Kubernetes form).
    assert len(workloads) >= 15, f"the compose corpus is not at {COMPOSE_CORPUS}"
    # The profile site takes the corpus' images (Docker Hub) and the standard's capabilities, so what is
    # compared there is the Pod Security Standard alone; the example site adds its own rules.
    extra = {"capabilities": PSS_DEFAULT_CAPABILITIES,
             "registries": ["localhost/spin", "docker.io", "gcr.io", "quay.io", "ghcr.io", "mcr.microsoft.com"]} \
        if site_kind == "profile" else {}
    site = site_data(tmp_path, f"corpus-{site_kind}-{level}", pod_security=level, **extra)
    decisions = spin_decisions([w for _, w in workloads], site, tmp_path)
    wrong, stricter, agree = [], {}, 0
    for (name, workload), decision in zip(workloads, decisions, strict=True):
        admitted, _ = server_admits(kube, namespaces[level], pod_of(name, workload))
        if decision["allowed"]:
            ok, why_patched = server_admits(kube, namespaces[level], pod_of(name, patched(workload, decision)))
            if ok:
                agree += 1
            else:
                wrong.append(f"{name}: spin admits, the API server refuses the pod as spin patched it:{why_patched}")
        elif not admitted:
            agree += 1  # both refuse (spin may name more reasons)
        else:
            extra = rules(decision) - set(CORPUS_SITE_RULES)
            if extra:
                wrong.append(f"{name}: spin refuses by {sorted(extra)} (not a documented site rule), "
                             f"the API server admits: " + "; ".join(v["message"] for v in decision["violations"]))
            for rule in rules(decision):
                stricter.setdefault(rule, []).append(name)
    print(f"\n{level} ({site_kind} site): {len(workloads)} corpus workloads, {agree} same verdict; the site stricter for "
          f"{len(workloads) - agree - len(wrong)}:" + "".join(
              f"\n  {rule} ({CORPUS_SITE_RULES.get(rule, '?')}): {', '.join(names)}"
              for rule, names in sorted(stricter.items())))
    assert not wrong, "\n".join(wrong)
