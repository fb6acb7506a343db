# no-privileged: a privileged container has the host's devices and capabilities.
package spin.rules.no_privileged

import data.spin.lib.workload

meta := {
	"id": "no-privileged",
	"title": "No privileged containers",
	"profile": "site",
	"description": "Refuses any container, init container or ephemeral container with securityContext.privileged true.",
}

deny contains violation if {
	some entry in workload.containers
	entry.container.securityContext.privileged == true
	violation := {
		"rule": "no-privileged",
		"message": sprintf("container %q is privileged; privileged containers are not allowed. Remove `privileged: true`.", [entry.name]),
		"path": sprintf("%s/securityContext/privileged", [entry.path]),
	}
}
