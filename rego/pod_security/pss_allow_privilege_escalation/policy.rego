# pss-allow-privilege-escalation (Pod Security Standards, restricted): every
# container says allowPrivilegeEscalation: false itself.
#
# The site's no-escalation rule patches the field to false where it is unset;
# this rule decides the object as written, so under restricted a pod that
# leaves it unset is refused, as the standard asks, rather than fixed up.
package spin.rules.pss_allow_privilege_escalation

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-allow-privilege-escalation",
	"title": "Privilege escalation turned off",
	"profile": "restricted",
	"description": "Refuses any container that does not set securityContext.allowPrivilegeEscalation: false.",
}

deny contains violation if {
	pss.restricted
	some entry in workload.containers
	object.get(pss.sc(entry), "allowPrivilegeEscalation", null) != false
	violation := {
		"rule": "pss-allow-privilege-escalation",
		"message": sprintf("container %q must set securityContext.allowPrivilegeEscalation: false (in compose: security_opt: [no-new-privileges:true]). %s", [entry.container.name, pss.reason]),
		"path": sprintf("%s/securityContext/allowPrivilegeEscalation", [entry.path]),
	}
}
