"""Decided vs. running: the security settings of a pod spec, compared field by field.

Backend-neutral: both sides are Kubernetes pod specs. The decided side is the
pod template of an approved (policy-patched) object; the observed side is what
the backend reports as running: on Kubernetes the pod as the API server stored
it (after every admission plugin and webhook) plus what the kubelet reports in
the container status; a podman backend can build the same shape from
`podman inspect`. A difference means something between the decision and the
runtime changed what runs, so `up` fails and the difference is audited (`drift`).
"""

from __future__ import annotations

from typing import Any

#: Pod-level fields that decide what the pod may reach on the host.
POD_FIELDS = ("hostNetwork", "hostPID", "hostIPC", "hostUsers", "shareProcessNamespace", "serviceAccountName",
              "automountServiceAccountToken", "runtimeClassName")
#: securityContext fields, pod level and container level.
POD_SC_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups", "supplementalGroupsPolicy",
                 "fsGroup", "fsGroupChangePolicy", "seccompProfile", "appArmorProfile", "seLinuxOptions", "sysctls")
CONTAINER_SC_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "privileged", "allowPrivilegeEscalation",
                       "capabilities", "readOnlyRootFilesystem", "seccompProfile", "appArmorProfile",
                       "seLinuxOptions", "procMount")
CONTAINER_FIELDS = ("image", "command", "args")


#: What the API server fills in when a pod leaves a field unset: the same decision.
API_DEFAULTS = {"pod serviceAccountName": "default", "procMount": "Default"}


def _norm(value: Any) -> Any:
    """Absent, null, false and empty say the same ("not asked for"); lists compare as sets of values.

    0 is a value (uid 0 is root), never "not asked for": compared by type, not with ==.
    """
    if value is None or value is False or (isinstance(value, (str, list, dict)) and not value):
        return None
    if isinstance(value, dict):
        out = {k: _norm(v) for k, v in value.items()}
        out = {k: v for k, v in out.items() if v is not None}
        return out or None
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return sorted(set(value), key=str)
    return value


def security_settings(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """The fields of a pod spec that the policy decides on, flattened to 'where' -> value."""
    spec = pod_spec or {}
    out: dict[str, Any] = {}
    for key in POD_FIELDS:
        out[f"pod {key}"] = _norm(spec.get(key))
    if out["pod serviceAccountName"] == API_DEFAULTS["pod serviceAccountName"]:
        out["pod serviceAccountName"] = None
    sc = spec.get("securityContext") or {}
    for key in POD_SC_FIELDS:
        out[f"pod securityContext.{key}"] = _norm(sc.get(key))
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            where = f"container {c.get('name')}"
            for key in CONTAINER_FIELDS:
                out[f"{where} {key}"] = _norm(c.get(key))
            csc = c.get("securityContext") or {}
            for key in CONTAINER_SC_FIELDS:
                value = csc.get(key)
                out[f"{where} securityContext.{key}"] = None if value == API_DEFAULTS.get(key) else _norm(value)
            out[f"{where} volumeMounts"] = _norm(sorted(
                f"{m.get('name')}:{m.get('mountPath')}{':ro' if m.get('readOnly') else ''}"
                f"{'/' + m['subPath'] if m.get('subPath') else ''}" for m in c.get("volumeMounts") or []))
    for v in spec.get("volumes") or []:
        if "hostPath" in v:
            out[f"volume {v.get('name')} hostPath"] = _norm({"path": v["hostPath"].get("path"),
                                                             "type": v["hostPath"].get("type")})
    return out


def security_drift(decided_pod_spec: dict[str, Any], running_pod_spec: dict[str, Any]) -> list[str]:
    """Every security setting that differs between the decided and the running pod spec, in words.

    Fields the decided spec leaves unset are compared too: a setting added after the
    decision (a webhook adding a capability, a hostPath, hostNetwork) is drift as much
    as one taken away. Volumes other than hostPath (the service-account token the API
    server projects, configMaps) are not security settings here.
    """
    decided, running = security_settings(decided_pod_spec), security_settings(running_pod_spec)
    out = []
    for key in sorted(set(decided) | set(running)):
        if key.endswith(" volumeMounts"):
            # The API server adds the service-account token mount; only mounts beyond it count.
            want = set(decided.get(key) or [])
            have = {m for m in running.get(key) or [] if not m.startswith("kube-api-access-")}
            if want != have:
                out.append(f"{key}: decided {sorted(want)}, runs {sorted(have)}")
            continue
        if decided.get(key) != running.get(key):
            out.append(f"{key}: decided {decided.get(key)!r}, runs {running.get(key)!r}")
    return out


def runtime_drift(decided_pod_spec: dict[str, Any], container_statuses: list[dict[str, Any]]) -> list[str]:
    """What the runtime reports running against what was decided: the user and groups of each container.

    Kubernetes reports them in containerStatuses[].user.linux when the runtime
    supports it (containerd 2.0 and later); a runtime that does not report them
    gives nothing to compare here (the caller says so).
    """
    spec = decided_pod_spec or {}
    pod_sc = spec.get("securityContext") or {}
    by_name = {c.get("name"): c for c in (spec.get("containers") or [])}
    out = []
    for status in container_statuses or []:
        user = ((status.get("user") or {}).get("linux")) or None
        container = by_name.get(status.get("name"))
        if user is None or container is None:
            continue
        csc = container.get("securityContext") or {}
        for field, reported in (("runAsUser", user.get("uid")), ("runAsGroup", user.get("gid"))):
            want = csc.get(field, pod_sc.get(field))
            if want is not None and reported != want:
                out.append(f"container {status.get('name')} runs as {field[5:].lower()} {reported}, decided {want}")
        wanted_groups = set(pod_sc.get("supplementalGroups") or [])
        missing = wanted_groups - set(user.get("supplementalGroups") or [])
        if missing:
            out.append(f"container {status.get('name')} lacks the decided supplemental groups {sorted(missing)}")
    return out
