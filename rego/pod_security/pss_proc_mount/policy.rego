# pss-proc-mount (Pod Security Standards, baseline): containers keep the default
# /proc masks, unless the pod runs in a user namespace (hostUsers: false).
package spin.rules.pss_proc_mount

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-proc-mount",
	"title": "Default /proc masks",
	"profile": "baseline",
	"description": "Refuses securityContext.procMount other than Default on any container, unless the pod sets hostUsers: false.",
}

deny contains violation if {
	not pss.user_namespace
	some entry in workload.containers
	mount := pss.sc(entry).procMount
	mount != "Default"
	violation := {
		"rule": "pss-proc-mount",
		"message": sprintf("container %q sets procMount %v, which unmasks /proc paths of the node; remove it or set it to Default", [entry.container.name, mount]),
		"path": sprintf("%s/securityContext/procMount", [entry.path]),
	}
}
