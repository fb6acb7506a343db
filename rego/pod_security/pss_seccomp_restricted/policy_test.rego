package spin.rules.pss_seccomp_restricted_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_seccomp_restricted as rule

test_no_profile_anywhere_denied if {
	some v in rule.deny with input as f.one({}) with data.spin.config as f.restricted
	v.path == "/spec/containers/0/securityContext/seccompProfile"
}

test_pod_profile_covers_containers if {
	count(rule.deny) == 0 with input as f.good with data.spin.config as f.restricted
}

test_one_container_without_a_profile_denied if {
	p := f.pod({"containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}, {"name": "b"}]})
	some v in rule.deny with input as p with data.spin.config as f.restricted
	v.path == "/spec/containers/1/securityContext/seccompProfile"
}
