# pss-proc-mount-restricted (Pod Security Standards, restricted): default /proc
# masks even in a user namespace.
package spin.rules.pss_proc_mount_restricted

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-proc-mount-restricted",
	"title": "Default /proc masks, user namespace or not",
	"profile": "restricted",
	"description": "Refuses securityContext.procMount other than Default on any container, hostUsers: false included.",
}

deny contains violation if {
	pss.restricted
	some entry in workload.containers
	mount := pss.sc(entry).procMount
	mount != "Default"
	violation := {
		"rule": "pss-proc-mount-restricted",
		"message": sprintf("container %q sets procMount %v, but only Default is allowed, even with hostUsers: false; remove it. %s", [entry.container.name, mount, pss.reason]),
		"path": sprintf("%s/securityContext/procMount", [entry.path]),
	}
}
