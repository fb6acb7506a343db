# pss-capabilities-restricted (Pod Security Standards, restricted): every
# container drops ALL capabilities and adds back at most NET_BIND_SERVICE.
package spin.rules.pss_capabilities_restricted

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-capabilities-restricted",
	"title": "All capabilities dropped",
	"profile": "restricted",
	"description": "Refuses any container that does not list ALL in capabilities.drop, or adds any capability but NET_BIND_SERVICE.",
}

deny contains violation if {
	pss.restricted
	some entry in workload.containers
	not "ALL" in object.get(pss.sc(entry), ["capabilities", "drop"], [])
	violation := {
		"rule": "pss-capabilities-restricted",
		"message": sprintf("container %q must drop all capabilities: set securityContext.capabilities.drop: [ALL] (in compose: cap_drop: [ALL]). %s", [entry.container.name, pss.reason]),
		"path": sprintf("%s/securityContext/capabilities/drop", [entry.path]),
	}
}

deny contains violation if {
	pss.restricted
	some entry in workload.containers
	some i, cap in object.get(pss.sc(entry), ["capabilities", "add"], [])
	cap != "NET_BIND_SERVICE"
	violation := {
		"rule": "pss-capabilities-restricted",
		"message": sprintf("container %q adds capability %v, but only NET_BIND_SERVICE may be added; remove it. %s", [entry.container.name, cap, pss.reason]),
		"path": sprintf("%s/securityContext/capabilities/add/%d", [entry.path, i]),
	}
}
