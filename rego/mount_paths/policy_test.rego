package spin.rules.mount_paths_test

import data.spin.rules.mount_paths
import data.spin.test.fixtures as f

mount(host, at, extra) := f.one(
	{"volumeMounts": [object.union({"name": "data", "mountPath": at}, extra)]},
	{"volumes": [{"name": "data", "hostPath": {"path": host}}]},
)

test_plain_paths_pass if {
	count(mount_paths.deny) == 0 with input as mount("/global/homes/a/alice", "/data", {"subPath": "x/y"})
	count(mount_paths.patch) == 0 with input as mount("/global/homes/a/alice", "/data", {})
}

test_podman_options_in_mount_path_are_refused if {
	some v in mount_paths.deny with input as mount("/global/homes/a/alice", "/data:U", {})
	v.path == "/spec/template/spec/containers/0/volumeMounts/0/mountPath"
	contains(v.message, ":U")
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice", "/data:ro,U", {})
}

test_options_in_host_path_are_refused if {
	some v in mount_paths.deny with input as mount("/global/homes/a/alice:U", "/data", {})
	v.path == "/spec/template/spec/volumes/0/hostPath/path"
}

test_nul_and_control_characters_are_refused if {
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice\u0000/x", "/data", {})
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice", "/da\nta", {})
}

test_unnormal_paths_are_patched_to_their_normal_form if {
	ops := mount_paths.patch with input as mount("/global/homes/a/alice/./x//", "/data/../srv/", {})
	ops == {
		{"op": "replace", "path": "/spec/template/spec/volumes/0/hostPath/path", "value": "/global/homes/a/alice/x"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/volumeMounts/0/mountPath", "value": "/srv"},
	}
}

test_sub_paths_stay_inside if {
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice", "/data", {"subPath": "../bob"})
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice", "/data", {"subPath": "/etc"})
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice", "/data", {"subPathExpr": "x:U"})
}

test_relative_mount_path_is_refused if {
	count(mount_paths.deny) == 1 with input as mount("/global/homes/a/alice", "data", {})
}
