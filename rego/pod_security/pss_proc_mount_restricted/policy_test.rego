package spin.rules.pss_proc_mount_restricted_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_proc_mount_restricted as rule

test_unmasked_denied_even_in_a_user_namespace if {
	p := f.pod({"hostUsers": false, "containers": [{"name": "c", "securityContext": {"procMount": "Unmasked"}}]})
	some v in rule.deny with input as p with data.spin.config as f.restricted
	v.path == "/spec/containers/0/securityContext/procMount"
}

test_default_allowed if {
	count(rule.deny) == 0 with input as f.one({"procMount": "Default"}) with data.spin.config as f.restricted
}
