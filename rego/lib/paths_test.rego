package spin.lib.paths_test

import data.spin.lib.paths

test_dot_dot_is_resolved if {
	paths.normalise("/global/cfs/projects/astro/../../../etc") == "/global/etc"
	paths.normalise("/global/cfs/projects/astro/x/..") == "/global/cfs/projects/astro"
}

test_dot_dot_at_the_root_stays_at_the_root if {
	paths.normalise("/../../etc/shadow") == "/etc/shadow"
	paths.normalise("/global/../../../etc") == "/etc"
}

test_double_and_trailing_slashes_and_dots_are_dropped if {
	paths.normalise("//global//cfs/./projects/astro///") == "/global/cfs/projects/astro"
	paths.normalise("/") == "/"
	paths.normalise("") == "/"
}

test_a_later_dot_dot_pops_only_what_it_reaches if {
	paths.normalise("/a/b/../c/../../d") == "/d"
	paths.normalise("/a/../b/c") == "/b/c"
}

test_under_compares_whole_segments if {
	paths.under("/global/cfs", "/global/cfs")
	paths.under("/global/cfs/x", "/global/cfs")
	not paths.under("/global/cfsx", "/global/cfs")
	paths.under("/anything", "/")
}
