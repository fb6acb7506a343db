package spin.rules.host_namespaces_test

import data.spin.rules.host_namespaces
import data.spin.test.fixtures as f

test_each_host_namespace_is_denied if {
	every field in ["hostNetwork", "hostPID", "hostIPC"] {
		some v in host_namespaces.deny with input as f.one({}, {field: true})
		v.path == sprintf("/spec/template/spec/%s", [field])
	}
}

test_host_port_is_denied if {
	some v in host_namespaces.deny with input as f.one({"ports": [{"containerPort": 80}, {"containerPort": 8080, "hostPort": 8080}]}, {})
	v.path == "/spec/template/spec/containers/0/ports/1/hostPort"
}

test_plain_pod_is_allowed if {
	count(host_namespaces.deny) == 0 with input as f.one({"ports": [{"containerPort": 8080}]}, {"hostNetwork": false})
}
