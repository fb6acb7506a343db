package spin.rules.pss_sysctls_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_sysctls

sysctls(names) := f.pod({"securityContext": {"sysctls": [{"name": n, "value": "1"} | some n in names]}, "containers": []})

test_unsafe_sysctl_denied_with_its_place if {
	some v in pss_sysctls.deny with input as sysctls(["net.ipv4.tcp_syncookies", "kernel.msgmax"])
	v.rule == "pss-sysctls"
	v.path == "/spec/securityContext/sysctls/1/name"
	contains(v.message, "kernel.msgmax")
}

test_safe_sysctls_allowed if {
	count(pss_sysctls.deny) == 0 with input as sysctls(["net.ipv4.tcp_notsent_lowat", "net.ipv4.ping_group_range"])
}

test_prefix_of_a_safe_name_is_not_safe if {
	count(pss_sysctls.deny) == 1 with input as sysctls(["net.ipv4.tcp_syncookies_x"])
}
