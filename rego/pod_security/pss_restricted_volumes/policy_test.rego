package spin.rules.pss_restricted_volumes_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_restricted_volumes as rule

volumes(vs) := f.pod({"containers": [], "volumes": vs})

test_host_path_denied_global_file_system_too if {
	some v in rule.deny with input as volumes([{"name": "cfs", "hostPath": {"path": "/global/cfs/projects/astro"}}]) with data.spin.config as f.restricted
	v.path == "/spec/volumes/0/hostPath"
}

test_nfs_denied if {
	count(rule.deny) == 1 with input as volumes([{"name": "a", "emptyDir": {}}, {"name": "n", "nfs": {"server": "s", "path": "/"}}]) with data.spin.config as f.restricted
}

test_allowed_types_and_a_bare_name if {
	vs := [{"name": "a"}, {"name": "b", "emptyDir": {}}, {"name": "c", "persistentVolumeClaim": {"claimName": "x"}}, {"name": "d", "projected": {"sources": []}}]
	count(rule.deny) == 0 with input as volumes(vs) with data.spin.config as f.restricted
}

test_host_path_left_to_the_site_rules_under_baseline if {
	count(rule.deny) == 0 with input as volumes([{"name": "h", "hostPath": {"path": "/a"}}]) with data.spin.config as {}
}
