package spin.rules.pss_run_as_user_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_run_as_user as rule

test_root_pod_denied if {
	some v in rule.deny with input as f.pod({"securityContext": {"runAsUser": 0}, "containers": []}) with data.spin.config as f.restricted
	v.path == "/spec/securityContext/runAsUser"
}

test_root_container_denied if {
	count(rule.deny) == 1 with input as f.one({"runAsUser": 0}) with data.spin.config as f.restricted
}

test_other_uid_allowed if {
	count(rule.deny) == 0 with input as f.one({"runAsUser": 1000}) with data.spin.config as f.restricted
}

test_not_applied_under_baseline if {
	count(rule.deny) == 0 with input as f.one({"runAsUser": 0}) with data.spin.config as {}
}
