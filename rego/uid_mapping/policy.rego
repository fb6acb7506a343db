# uid-mapping: a workload that mounts the global file system runs as the caller, so file
# permissions there mean what they mean on the facility's login nodes. Unset fields are
# patched to the caller's values; values set to anything else are refused, naming the value
# expected. Workloads without such mounts run as their image says, within the other rules.
package spin.rules.uid_mapping

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "uid-mapping",
	"title": "Workloads on the global file system run as the caller",
	"profile": "site",
	"description": "For workloads that mount the global file system: runAsUser must be the caller's uid, runAsGroup, supplementalGroups and fsGroup the caller's gids, runAsNonRoot true, and every capability dropped; unset fields are patched to the caller's values.",
}

user := input.user

gids := {user.gid} | {g.gid | some g in user.groups}

applies if {
	workload.is_workload
	workload.mounts_global
}

pod_sc := object.get(workload.pod_spec, "securityContext", {})

pod_sc_pointer := concat("", [workload.pod_pointer, "/securityContext"])

# -- patches: the caller's values where nothing is set -----------------------------------

pod_defaults := {
	"runAsUser": user.uid,
	"runAsGroup": user.gid,
	"runAsNonRoot": true,
	"supplementalGroups": sort(gids - {user.gid}),
}

# Plain rules rather than lib/patch.ensure calls: they run for every container of every
# decision. Missing parents are added as `{}`, the convention of lib/patch.rego.
patch contains {"op": "add", "path": pod_sc_pointer, "value": {}} if {
	applies
	not is_object(object.get(workload.pod_spec, "securityContext", null))
}

patch contains {"op": "add", "path": concat("/", [pod_sc_pointer, field]), "value": value} if {
	applies
	some field, value in pod_defaults
	object.get(pod_sc, field, null) == null
}

drop_missing := [entry |
	applies
	some entry in workload.containers
	object.get(entry.container, ["securityContext", "capabilities", "drop"], null) == null
]

patch contains {"op": "add", "path": concat("", [e.path, "/securityContext"]), "value": {}} if {
	some e in drop_missing
	not is_object(object.get(e.container, "securityContext", null))
}

patch contains {"op": "add", "path": concat("", [e.path, "/securityContext/capabilities"]), "value": {}} if {
	some e in drop_missing
	not is_object(object.get(e.container, ["securityContext", "capabilities"], null))
}

patch contains {"op": "add", "path": concat("", [e.path, "/securityContext/capabilities/drop"]), "value": ["ALL"]} if {
	some e in drop_missing
}

# -- refusals: values set to anything else ------------------------------------------------

# Every securityContext of the pod: the pod's own and each container's.
contexts := array.concat(
	[{"sc": pod_sc, "path": pod_sc_pointer, "container": null} | applies],
	[{"sc": sc, "path": concat("", [entry.path, "/securityContext"]), "container": entry.name} |
		applies
		some entry in workload.containers
		sc := object.get(entry.container, "securityContext", {})
	],
)

violation(path, message) := {"rule": "uid-mapping", "message": message, "path": path}

deny contains violation(sprintf("%s/runAsUser", [c.path]), msg) if {
	some c in contexts
	value := c.sc.runAsUser
	value != user.uid
	msg := sprintf("%s sets runAsUser %v, but workloads that mount the global file system run as the caller: expected %v (%s)", [what(c), value, user.uid, user.name])
}

deny contains violation(sprintf("%s/runAsGroup", [c.path]), msg) if {
	some c in contexts
	value := c.sc.runAsGroup
	not value in gids
	msg := sprintf("%s sets runAsGroup %v, but workloads that mount the global file system run with the caller's groups: expected one of %v", [what(c), value, sort(gids)])
}

deny contains violation(sprintf("%s/runAsNonRoot", [c.path]), msg) if {
	some c in contexts
	c.sc.runAsNonRoot == false
	msg := sprintf("%s sets runAsNonRoot false, but workloads that mount the global file system never run as root: expected true", [what(c)])
}

deny contains violation(sprintf("%s/supplementalGroups/%d", [pod_sc_pointer, i]), msg) if {
	applies
	some i, value in object.get(pod_sc, "supplementalGroups", [])
	not value in gids
	msg := sprintf("supplementalGroups holds %v, which is not one of the caller's groups: expected only %v", [value, sort(gids)])
}

deny contains violation(sprintf("%s/fsGroup", [pod_sc_pointer]), msg) if {
	applies
	value := pod_sc.fsGroup
	not value in gids
	msg := sprintf("fsGroup is %v, which is not one of the caller's groups: expected one of %v", [value, sort(gids)])
}

deny contains violation(sprintf("%s/securityContext/capabilities/drop", [entry.path]), msg) if {
	applies
	some entry in workload.containers
	drop := entry.container.securityContext.capabilities.drop
	not "ALL" in {upper(d) | some d in drop}
	msg := sprintf("container %q drops %v, but workloads that mount the global file system drop every capability: expected [\"ALL\"] (add back only %v)", [entry.name, drop, sort(site.capabilities - {"ALL", "SYS_ADMIN", "NET_ADMIN"})])
}

what(c) := "the pod" if c.container == null

what(c) := sprintf("container %q", [c.container]) if c.container != null
