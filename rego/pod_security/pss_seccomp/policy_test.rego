package spin.rules.pss_seccomp_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_seccomp

test_unconfined_pod_denied if {
	some v in pss_seccomp.deny with input as f.pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": []})
	v.path == "/spec/securityContext/seccompProfile/type"
}

test_unconfined_container_of_a_deployment_denied if {
	spec := {"containers": [{"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]}
	some v in pss_seccomp.deny with input as f.deployment(spec, {})
	v.path == "/spec/template/spec/containers/0/securityContext/seccompProfile/type"
}

test_runtime_default_and_localhost_allowed if {
	count(pss_seccomp.deny) == 0 with input as f.one({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})
	count(pss_seccomp.deny) == 0 with input as f.good
}
