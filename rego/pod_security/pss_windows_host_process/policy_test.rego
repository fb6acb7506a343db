package spin.rules.pss_windows_host_process_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_windows_host_process

test_host_process_pod_denied if {
	some v in pss_windows_host_process.deny with input as f.pod({"securityContext": {"windowsOptions": {"hostProcess": true}}, "containers": []})
	v.path == "/spec/securityContext/windowsOptions/hostProcess"
}

test_host_process_container_denied if {
	some v in pss_windows_host_process.deny with input as f.one({"windowsOptions": {"hostProcess": true}})
	v.path == "/spec/containers/0/securityContext/windowsOptions/hostProcess"
}

test_host_process_false_allowed if {
	count(pss_windows_host_process.deny) == 0 with input as f.one({"windowsOptions": {"hostProcess": false}})
}
