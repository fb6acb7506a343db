package spin.rules.pss_profile_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_profile

test_a_misspelt_profile_refuses_every_workload if {
	some v in pss_profile.deny with input as f.good with data.spin.config as {"pod_security": "restrictd"}
	v.rule == "pss-profile"
	contains(v.message, "pod_security to restrictd")
}

test_a_misspelt_project_profile_is_named if {
	some v in pss_profile.deny with input as f.good with data.spin.config as {"pod_security_projects": {"climate": "strict"}}
	contains(v.message, "pod_security_projects.climate")
}

test_valid_settings_refuse_nothing if {
	count(pss_profile.deny) == 0 with input as f.good
		with data.spin.config as {"pod_security": "baseline", "pod_security_projects": {"astro": "restricted"}}
}

test_services_are_not_refused if {
	count(pss_profile.deny) == 0 with input as {"request": {"object": {"kind": "Service"}}}
		with data.spin.config as {"pod_security": "restrictd"}
}
