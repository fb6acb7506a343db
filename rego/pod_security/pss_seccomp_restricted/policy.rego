# pss-seccomp-restricted (Pod Security Standards, restricted): a seccomp profile
# must be chosen explicitly, for the pod or for every container.
# (Unconfined is refused by pss-seccomp at every level.)
package spin.rules.pss_seccomp_restricted

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-seccomp-restricted",
	"title": "Seccomp profile set",
	"profile": "restricted",
	"description": "Refuses any container with no seccompProfile when the pod sets none (RuntimeDefault or Localhost).",
}

deny contains violation if {
	pss.restricted
	not pss.pod_sc.seccompProfile
	some entry in workload.containers
	not pss.sc(entry).seccompProfile
	violation := {
		"rule": "pss-seccomp-restricted",
		"message": sprintf("container %q runs with no seccomp profile chosen; set securityContext.seccompProfile.type: RuntimeDefault on the pod or the container. %s", [entry.container.name, pss.reason]),
		"path": sprintf("%s/securityContext/seccompProfile", [entry.path]),
	}
}
