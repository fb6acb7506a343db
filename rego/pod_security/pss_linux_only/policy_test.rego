package spin.rules.pss_linux_only_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_linux_only as rule

test_windows_pod_denied_under_restricted if {
	some v in rule.deny with input as f.pod({"os": {"name": "windows"}, "containers": []}) with data.spin.config as f.restricted
	v.path == "/spec/os/name"
	contains(v.message, "Linux")
}

test_linux_or_unset_allowed if {
	count(rule.deny) == 0 with input as f.pod({"os": {"name": "linux"}, "containers": []}) with data.spin.config as f.restricted
	count(rule.deny) == 0 with input as f.good with data.spin.config as f.restricted
}
