package spin.rules.pss_capabilities_baseline_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_capabilities_baseline

adds(caps) := f.one({"capabilities": {"add": caps}})

test_net_raw_denied if {
	some v in pss_capabilities_baseline.deny with input as adds(["CHOWN", "NET_RAW"]) with data.spin.config as {"capabilities": ["NET_RAW"]}
	v.path == "/spec/containers/0/securityContext/capabilities/add/1"
}

test_silent_where_the_site_rule_refuses_the_same_entry if {
	count(pss_capabilities_baseline.deny) == 0 with input as adds(["NET_RAW"]) with data.spin.config as {"capabilities": ["CHOWN"]}
}

test_other_spellings_denied_as_the_standard_does if {
	count(pss_capabilities_baseline.deny) == 2 with input as adds(["chown", "CAP_CHOWN"])
}

test_default_set_allowed if {
	count(pss_capabilities_baseline.deny) == 0 with input as adds(["SYS_CHROOT", "MKNOD"])
}

test_a_site_allowlist_cannot_widen_it if {
	count(pss_capabilities_baseline.deny) == 1 with input as adds(["NET_RAW"]) with data.spin.config as {"capabilities": ["NET_RAW"]}
}
