# pss-windows-host-process (Pod Security Standards, baseline): no Windows
# HostProcess containers, which run with the node's full access.
package spin.rules.pss_windows_host_process

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-windows-host-process",
	"title": "No Windows HostProcess containers",
	"profile": "baseline",
	"description": "Refuses securityContext.windowsOptions.hostProcess true on the pod or any container.",
}

deny contains violation if {
	pss.pod_sc.windowsOptions.hostProcess == true
	violation := {
		"rule": "pss-windows-host-process",
		"message": "the pod sets windowsOptions.hostProcess: true, which runs its containers with the node's full access; remove it",
		"path": sprintf("%s/windowsOptions/hostProcess", [pss.pod_sc_pointer]),
	}
}

deny contains violation if {
	some entry in workload.containers
	pss.sc(entry).windowsOptions.hostProcess == true
	violation := {
		"rule": "pss-windows-host-process",
		"message": sprintf("container %q sets windowsOptions.hostProcess: true, which runs it with the node's full access; remove it", [entry.container.name]),
		"path": sprintf("%s/securityContext/windowsOptions/hostProcess", [entry.path]),
	}
}
