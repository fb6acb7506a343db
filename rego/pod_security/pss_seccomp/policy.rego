# pss-seccomp (Pod Security Standards, baseline): the seccomp profile must not be
# turned off.
package spin.rules.pss_seccomp

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-seccomp",
	"title": "Seccomp not unconfined",
	"profile": "baseline",
	"description": "Refuses seccompProfile.type other than RuntimeDefault or Localhost (e.g. Unconfined) on the pod or any container.",
}

allowed_types := {"RuntimeDefault", "Localhost"}

deny contains violation if {
	profile := pss.pod_sc.seccompProfile
	not object.get(profile, "type", "") in allowed_types
	violation := {
		"rule": "pss-seccomp",
		"message": sprintf("the pod sets seccompProfile type %v, which turns the system call filter off; set it to RuntimeDefault or Localhost, or remove it", [object.get(profile, "type", "(none)")]),
		"path": sprintf("%s/seccompProfile/type", [pss.pod_sc_pointer]),
	}
}

deny contains violation if {
	some entry in workload.containers
	profile := pss.sc(entry).seccompProfile
	not object.get(profile, "type", "") in allowed_types
	violation := {
		"rule": "pss-seccomp",
		"message": sprintf("container %q sets seccompProfile type %v, which turns the system call filter off; set it to RuntimeDefault or Localhost, or remove it", [entry.container.name, object.get(profile, "type", "(none)")]),
		"path": sprintf("%s/securityContext/seccompProfile/type", [entry.path]),
	}
}
