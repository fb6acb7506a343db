package spin.rules.global_fs_test

import data.spin.rules.global_fs
import data.spin.test.fixtures as f

allowed(path, ro) if count(global_fs.deny) == 0 with input as f.mounting(path, ro)

denied(path, ro) if {
	some v in global_fs.deny with input as f.mounting(path, ro)
	v.rule == "global-fs"
}

test_own_project_is_read_write if {
	allowed("/global/cfs/projects/astro/results", false)
	allowed("/global/cfs/projects/astro", true)
}

test_other_project_is_denied if {
	denied("/global/cfs/projects/climate/data", true)
	some v in global_fs.deny with input as f.mounting("/global/cfs/projects/climate", false)
	contains(v.message, "members of that project")
}

test_software_is_read_only_for_members if {
	allowed("/global/common/software/astro/bin", true)
	denied("/global/common/software/astro/bin", false)
	denied("/global/common/software/climate", true)
}

test_home_is_for_its_user_only if {
	allowed("/global/homes/a/alice", false)
	denied("/global/homes/b/bob", false)
	denied("/global/homes/b/alice", false)
}

test_anything_else_under_global_is_denied if {
	denied("/global", true)
	denied("/global/cfs/projects", true)
	denied("/global/scratch/alice", false)
}

test_dot_dot_does_not_get_around_a_rule if {
	denied("/global/cfs/projects/astro/../climate", false)
	denied("/global/homes/a/alice/../../b/bob", false)
	allowed("/global/cfs/projects/climate/../astro", false)
}

test_double_slashes_do_not_get_around_a_rule if {
	denied("//global//cfs//projects//climate", false)
	denied("/global//common/software/astro", false)
}

test_trailing_slashes_do_not_get_around_a_rule if {
	denied("/global/cfs/projects/climate/", false)
	denied("/global/common/software/astro/", false)
	allowed("/global/cfs/projects/astro/", false)
}

test_sub_path_is_resolved_against_the_volume if {
	inp := f.one(
		{"volumeMounts": [{"name": "data", "mountPath": "/data", "subPath": "x/../../climate"}]},
		{"volumes": [{"name": "data", "hostPath": {"path": "/global/cfs/projects/astro"}}]},
	)
	count(global_fs.deny) >= 1 with input as inp
}

test_sub_path_expr_is_denied if {
	inp := f.one(
		{"volumeMounts": [{"name": "data", "mountPath": "/data", "subPathExpr": "$(POD_NAME)"}]},
		{"volumes": [{"name": "data", "hostPath": {"path": "/global/cfs/projects/astro"}}]},
	)
	some v in global_fs.deny with input as inp
	v.path == "/spec/template/spec/containers/0/volumeMounts/0/subPathExpr"
}

test_paths_outside_the_global_fs_are_left_to_volumes if {
	allowed("/etc", false)
}
