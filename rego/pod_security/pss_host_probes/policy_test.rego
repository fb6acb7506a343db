package spin.rules.pss_host_probes_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_host_probes

with_container(c) := f.pod({"containers": [object.union({"name": "c", "image": "x"}, c)]})

test_probe_host_denied if {
	some v in pss_host_probes.deny with input as with_container({"livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}})
	v.path == "/spec/containers/0/livenessProbe/httpGet/host"
}

test_lifecycle_tcp_host_denied if {
	some v in pss_host_probes.deny with input as with_container({"lifecycle": {"preStop": {"tcpSocket": {"host": "::1", "port": 1}}}})
	v.path == "/spec/containers/0/lifecycle/preStop/tcpSocket/host"
}

test_probes_of_the_pod_itself_allowed if {
	count(pss_host_probes.deny) == 0 with input as with_container({"readinessProbe": {"tcpSocket": {"port": 8080}}, "startupProbe": {"httpGet": {"host": "", "port": 1}}})
}
