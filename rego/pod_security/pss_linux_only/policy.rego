# pss-linux-only (restricted): the platform runs Linux containers only. The
# restricted standard exempts Windows pods from its Linux checks; rather than
# let `os.name: windows` switch those checks off, spin refuses such pods and
# keeps every Linux check on.
package spin.rules.pss_linux_only

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-linux-only",
	"title": "Linux pods only",
	"profile": "restricted",
	"description": "Refuses pods with spec.os.name other than linux: this platform runs Linux, and the restricted standard's Windows exemptions would otherwise switch Linux checks off.",
}

deny contains violation if {
	pss.restricted
	name := workload.pod_spec.os.name
	name != "linux"
	violation := {
		"rule": "pss-linux-only",
		"message": sprintf("the pod asks for os.name %v, but this platform runs Linux containers only; remove spec.os or set it to linux. %s", [name, pss.reason]),
		"path": sprintf("%s/os/name", [workload.pod_pointer]),
	}
}
