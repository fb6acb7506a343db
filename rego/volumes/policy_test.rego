package spin.rules.volumes_test

import data.spin.rules.volumes
import data.spin.test.fixtures as f

with_volume(v) := f.one({}, {"volumes": [v]})

test_allowlisted_types_are_allowed if {
	vols := [
		{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "c"}}, {"name": "c", "secret": {"secretName": "s"}},
		{"name": "d", "persistentVolumeClaim": {"claimName": "p"}},
	]
	count(volumes.deny) == 0 with input as f.one({}, {"volumes": vols})
}

test_other_types_are_denied if {
	some v in volumes.deny with input as with_volume({"name": "n", "nfs": {"server": "10.0.0.1", "path": "/"}})
	v.rule == "volumes"
	v.path == "/spec/template/spec/volumes/0/nfs"
}

test_host_path_outside_the_global_fs_is_denied if {
	some v in volumes.deny with input as with_volume({"name": "n", "hostPath": {"path": "/etc"}})
	v.path == "/spec/template/spec/volumes/0/hostPath/path"
}

test_host_path_under_the_global_fs_is_left_to_global_fs if {
	count(volumes.deny) == 0 with input as with_volume({"name": "n", "hostPath": {"path": "/global/anything"}})
}

test_dot_dot_out_of_the_global_fs_is_denied if {
	count(volumes.deny) == 1 with input as with_volume({"name": "n", "hostPath": {"path": "/global/cfs/../../etc"}})
}

test_look_alike_root_is_denied if {
	count(volumes.deny) == 1 with input as with_volume({"name": "n", "hostPath": {"path": "/globalx/cfs"}})
	count(volumes.deny) == 1 with input as with_volume({"name": "n", "hostPath": {"path": "//etc//"}})
}

test_relative_host_path_is_denied if {
	some v in volumes.deny with input as with_volume({"name": "n", "hostPath": {"path": "global/cfs"}})
	contains(v.message, "not an absolute path")
}

test_host_path_without_a_text_path_is_denied if {
	count(volumes.deny) == 1 with input as with_volume({"name": "n", "hostPath": {"path": 7}})
	count(volumes.deny) == 1 with input as with_volume({"name": "n", "hostPath": {}})
}
