# pss-sysctls (Pod Security Standards, baseline): only sysctls namespaced to the
# pod and isolated from other pods on the node may be set.
package spin.rules.pss_sysctls

import data.spin.lib.pod_security as pss

meta := {
	"id": "pss-sysctls",
	"title": "Only safe sysctls",
	"profile": "baseline",
	"description": "Refuses spec.securityContext.sysctls names outside the Pod Security Standards' safe set (Kubernetes 1.37).",
}

# The safe set of the Pod Security Standards as of Kubernetes 1.37.
safe := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle",
	"net.ipv4.tcp_notsent_lowat",
}

deny contains violation if {
	some i, sysctl in object.get(pss.pod_sc, "sysctls", [])
	not sysctl.name in safe
	violation := {
		"rule": "pss-sysctls",
		"message": sprintf("sysctl %q is not one of the safe sysctls a pod may set (it is not isolated from other pods on the node); remove it. Safe: %v", [sysctl.name, concat(", ", sort(safe))]),
		"path": sprintf("%s/sysctls/%d/name", [pss.pod_sc_pointer, i]),
	}
}
