# uid-mapping: containers run as the caller's facility identity. A pod that
# sets no runAsUser/runAsGroup gets the caller's uid and gid (patch); a pod
# that sets other values is refused, saying which value was expected.
package spin.rules.uid_mapping

import data.spin.lib.workload

user := input.user

gids := {user.gid} | {g.gid | some g in user.groups}

pod_sc := object.get(workload.pod_spec, "securityContext", {})

patch contains op if {
	workload.is_workload
	not workload.pod_spec.securityContext
	op := {"op": "add", "path": sprintf("%s/securityContext", [workload.pod_pointer]), "value": {}}
}

patch contains op if {
	workload.is_workload
	not pod_sc.runAsUser
	not any_container_sets("runAsUser")
	op := {"op": "add", "path": sprintf("%s/securityContext/runAsUser", [workload.pod_pointer]), "value": user.uid}
}

patch contains op if {
	workload.is_workload
	not pod_sc.runAsGroup
	not any_container_sets("runAsGroup")
	op := {"op": "add", "path": sprintf("%s/securityContext/runAsGroup", [workload.pod_pointer]), "value": user.gid}
}

any_container_sets(field) if {
	some entry in workload.containers
	entry.container.securityContext[field]
}

deny contains violation if {
	some place, value in run_as_user
	value != user.uid
	violation := {
		"rule": "uid-mapping",
		"message": sprintf("runAsUser is %v, but workloads run as the caller: expected %v (%s)", [value, user.uid, user.name]),
		"path": place,
	}
}

deny contains violation if {
	some place, value in run_as_group
	not value in gids
	violation := {
		"rule": "uid-mapping",
		"message": sprintf("runAsGroup is %v, but workloads run with one of the caller's groups: expected one of %v", [value, sort(gids)]),
		"path": place,
	}
}

run_as_user[place] := value if {
	value := pod_sc.runAsUser
	place := sprintf("%s/securityContext/runAsUser", [workload.pod_pointer])
}

run_as_user[place] := value if {
	some entry in workload.containers
	value := entry.container.securityContext.runAsUser
	place := sprintf("%s/securityContext/runAsUser", [entry.path])
}

run_as_group[place] := value if {
	value := pod_sc.runAsGroup
	place := sprintf("%s/securityContext/runAsGroup", [workload.pod_pointer])
}

run_as_group[place] := value if {
	some entry in workload.containers
	value := entry.container.securityContext.runAsGroup
	place := sprintf("%s/securityContext/runAsGroup", [entry.path])
}
