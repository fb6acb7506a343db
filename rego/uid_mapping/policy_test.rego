package spin.rules.uid_mapping_test

import data.spin.rules.uid_mapping
import data.spin.test.fixtures as f

project_dir := "/global/cfs/projects/astro/run"

# A Deployment mounting the project's folder, with the given pod and container contexts.
on_global(pod_sc, container_sc) := f.one(
	{"securityContext": container_sc, "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
	{"securityContext": pod_sc, "volumes": [{"name": "data", "hostPath": {"path": project_dir}}]},
)

caller_pod_sc := {"runAsUser": 1001, "runAsGroup": 1001, "runAsNonRoot": true, "supplementalGroups": [5001]}

drop_all := {"capabilities": {"drop": ["ALL"]}}

test_unset_fields_are_patched_to_the_caller if {
	ops := uid_mapping.patch with input as on_global({}, {})
	{"op": "add", "path": "/spec/template/spec/securityContext/runAsUser", "value": 1001} in ops
	{"op": "add", "path": "/spec/template/spec/securityContext/runAsGroup", "value": 1001} in ops
	{"op": "add", "path": "/spec/template/spec/securityContext/runAsNonRoot", "value": true} in ops
	{"op": "add", "path": "/spec/template/spec/securityContext/supplementalGroups", "value": [5001]} in ops
	{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/capabilities", "value": {}} in ops
	{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/capabilities/drop", "value": ["ALL"]} in ops
	count(uid_mapping.deny) == 0 with input as on_global({}, {})
}

test_missing_pod_security_context_is_created_first if {
	inp := f.mounting(project_dir, false)
	{"op": "add", "path": "/spec/template/spec/securityContext", "value": {}} in uid_mapping.patch with input as inp
}

test_the_callers_values_pass_unpatched if {
	count(uid_mapping.patch) == 0 with input as on_global(caller_pod_sc, drop_all)
	count(uid_mapping.deny) == 0 with input as on_global(caller_pod_sc, drop_all)
}

test_other_uid_is_denied_with_expected_value if {
	some v in uid_mapping.deny with input as on_global({}, {"runAsUser": 0})
	v.rule == "uid-mapping"
	contains(v.message, "expected 1001")
	v.path == "/spec/template/spec/containers/0/securityContext/runAsUser"
}

test_supplementary_group_is_accepted_as_run_as_group if {
	count(uid_mapping.deny) == 0 with input as on_global({"runAsUser": 1001, "runAsGroup": 5001}, {})
}

test_foreign_groups_are_denied if {
	some v in uid_mapping.deny with input as on_global({"runAsGroup": 0}, {})
	v.path == "/spec/template/spec/securityContext/runAsGroup"
	some w in uid_mapping.deny with input as on_global({"supplementalGroups": [5001, 0]}, {})
	w.path == "/spec/template/spec/securityContext/supplementalGroups/1"
	some x in uid_mapping.deny with input as on_global({"fsGroup": 5002}, {})
	contains(x.message, "expected one of [1001, 5001]")
}

test_run_as_root_is_denied if {
	some v in uid_mapping.deny with input as on_global({"runAsNonRoot": false}, {})
	contains(v.message, "expected true")
}

test_capabilities_not_dropped_are_denied if {
	some v in uid_mapping.deny with input as on_global({}, {"capabilities": {"drop": ["NET_RAW"]}})
	v.path == "/spec/template/spec/containers/0/securityContext/capabilities/drop"
	contains(v.message, `expected ["ALL"]`)
}

test_workloads_without_global_mounts_run_as_their_image_says if {
	inp := f.one({"securityContext": {"runAsUser": 0}}, {"volumes": [{"name": "t", "emptyDir": {}}]})
	count(uid_mapping.deny) == 0 with input as inp
	count(uid_mapping.patch) == 0 with input as inp
}

test_dot_dot_into_the_global_fs_still_maps if {
	inp := f.mounting("/tmp/../global/cfs/projects/astro", false)
	count(uid_mapping.patch) > 0 with input as inp
}

test_services_are_not_touched if {
	count(uid_mapping.patch) == 0 with input as {"user": f.alice, "request": {"object": {"kind": "Service", "spec": {}}}}
}
