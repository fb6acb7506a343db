# pss-run-as-non-root (Pod Security Standards, restricted): the pod, or every
# container, must say runAsNonRoot: true, and none may say false.
package spin.rules.pss_run_as_non_root

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-run-as-non-root",
	"title": "Containers must run as non-root",
	"profile": "restricted",
	"description": "Refuses runAsNonRoot: false anywhere, and any container without runAsNonRoot: true when the pod does not set it; relaxed for pods with hostUsers: false.",
}

applies if {
	pss.restricted
	not pss.user_namespace
}

deny contains violation if {
	applies
	pss.pod_sc.runAsNonRoot == false
	violation := {
		"rule": "pss-run-as-non-root",
		"message": sprintf("the pod sets runAsNonRoot: false; set it to true. %s", [pss.reason]),
		"path": sprintf("%s/runAsNonRoot", [pss.pod_sc_pointer]),
	}
}

deny contains violation if {
	applies
	some entry in workload.containers
	pss.sc(entry).runAsNonRoot == false
	violation := {
		"rule": "pss-run-as-non-root",
		"message": sprintf("container %q sets runAsNonRoot: false; set it to true. %s", [entry.container.name, pss.reason]),
		"path": sprintf("%s/securityContext/runAsNonRoot", [entry.path]),
	}
}

deny contains violation if {
	applies
	object.get(pss.pod_sc, "runAsNonRoot", null) != true
	some entry in workload.containers
	object.get(pss.sc(entry), "runAsNonRoot", null) == null
	violation := {
		"rule": "pss-run-as-non-root",
		"message": sprintf("container %q does not say it runs as non-root; set securityContext.runAsNonRoot: true on the pod or the container. %s", [entry.container.name, pss.reason]),
		"path": sprintf("%s/securityContext/runAsNonRoot", [entry.path]),
	}
}
