# no-escalation: setuid binaries must not give a process more privileges than its parent.
package spin.rules.no_escalation

import data.spin.lib.patch as jp
import data.spin.lib.workload

meta := {
	"id": "no-escalation",
	"title": "No privilege escalation",
	"profile": "site",
	"description": "Refuses allowPrivilegeEscalation true on any container; where it is unset it is patched to false.",
}

deny contains violation if {
	some entry in workload.containers
	entry.container.securityContext.allowPrivilegeEscalation == true
	violation := {
		"rule": "no-escalation",
		"message": sprintf("container %q sets allowPrivilegeEscalation: true; privilege escalation is not allowed. Remove it or set it to false.", [entry.name]),
		"path": sprintf("%s/securityContext/allowPrivilegeEscalation", [entry.path]),
	}
}

patch contains op if {
	some entry in workload.containers
	object.get(entry.container, ["securityContext", "allowPrivilegeEscalation"], null) == null
	some op in jp.ensure(entry.path, entry.container, ["securityContext", "allowPrivilegeEscalation"], false)
}
