# pss-run-as-user (Pod Security Standards, restricted): no runAsUser 0.
# (The site's uid-mapping rule is stricter still: only the caller's uid.)
package spin.rules.pss_run_as_user

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-run-as-user",
	"title": "Not run as uid 0",
	"profile": "restricted",
	"description": "Refuses runAsUser: 0 on the pod or any container; relaxed for pods with hostUsers: false.",
}

applies if {
	pss.restricted
	not pss.user_namespace
}

deny contains violation if {
	applies
	pss.pod_sc.runAsUser == 0
	violation := {
		"rule": "pss-run-as-user",
		"message": sprintf("the pod sets runAsUser: 0 (root); remove it or use a non-zero uid. %s", [pss.reason]),
		"path": sprintf("%s/runAsUser", [pss.pod_sc_pointer]),
	}
}

deny contains violation if {
	applies
	some entry in workload.containers
	pss.sc(entry).runAsUser == 0
	violation := {
		"rule": "pss-run-as-user",
		"message": sprintf("container %q sets runAsUser: 0 (root); remove it or use a non-zero uid. %s", [entry.container.name, pss.reason]),
		"path": sprintf("%s/securityContext/runAsUser", [entry.path]),
	}
}
