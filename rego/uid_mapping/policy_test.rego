package spin.rules.uid_mapping_test

import data.spin.rules.uid_mapping

alice := {"name": "alice", "uid": 1001, "gid": 1001, "groups": [{"name": "astro", "gid": 5001}], "projects": ["astro"]}

deployment(pod_sc, container_sc) := {"user": alice, "request": {"object": {
	"kind": "Deployment",
	"spec": {"template": {"spec": {
		"securityContext": pod_sc,
		"containers": [{"name": "web", "image": "x", "securityContext": container_sc}],
	}}},
}}}

test_unset_ids_are_patched_to_the_caller if {
	ops := uid_mapping.patch with input as deployment({}, {})
	{"op": "add", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1001} in ops
	{"op": "add", "path": "/spec/template/spec/securityContext/runAsGroup", "value": 1001} in ops
	count(uid_mapping.deny) == 0 with input as deployment({}, {})
}

test_missing_security_context_is_created_first if {
	pod := {"user": alice, "request": {"object": {"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "x"}]}}}}
	{"op": "add", "path": "/spec/securityContext", "value": {}} in uid_mapping.patch with input as pod
}

test_other_uid_is_denied_with_expected_value if {
	some v in uid_mapping.deny with input as deployment({}, {"runAsUser": 0})
	v.rule == "uid-mapping"
	contains(v.message, "expected 1001")
	v.path == "/spec/template/spec/containers/0/securityContext/runAsUser"
}

test_supplementary_group_is_accepted if {
	count(uid_mapping.deny) == 0 with input as deployment({"runAsUser": 1001, "runAsGroup": 5001}, {})
	count(uid_mapping.patch) == 0 with input as deployment({"runAsUser": 1001, "runAsGroup": 5001}, {})
}

test_foreign_group_is_denied if {
	some v in uid_mapping.deny with input as deployment({"runAsGroup": 0}, {})
	v.path == "/spec/template/spec/securityContext/runAsGroup"
}

test_services_are_not_touched if {
	count(uid_mapping.patch) == 0 with input as {"user": alice, "request": {"object": {"kind": "Service", "spec": {}}}}
}
