package spin.rules.pss_run_as_non_root_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_run_as_non_root as rule

test_unset_everywhere_denied if {
	some v in rule.deny with input as f.one({}) with data.spin.config as f.restricted
	v.path == "/spec/containers/0/securityContext/runAsNonRoot"
}

test_pod_level_true_covers_every_container if {
	count(rule.deny) == 0 with input as f.good with data.spin.config as f.restricted
}

test_each_container_true_is_enough if {
	count(rule.deny) == 0 with input as f.one({"runAsNonRoot": true}) with data.spin.config as f.restricted
}

test_container_false_overrides_the_pod if {
	p := f.pod({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "c", "securityContext": {"runAsNonRoot": false}}]})
	count(rule.deny) == 1 with input as p with data.spin.config as f.restricted
}

test_relaxed_in_a_user_namespace if {
	count(rule.deny) == 0 with input as f.pod({"hostUsers": false, "containers": [{"name": "c"}]}) with data.spin.config as f.restricted
}

test_project_listed_as_restricted if {
	count(rule.deny) == 1 with input as f.one({}) with data.spin.config as {"pod_security_projects": {"astro": "restricted"}}
	count(rule.deny) == 0 with input as f.one({}) with data.spin.config as {"pod_security_projects": {"climate": "restricted"}}
}
