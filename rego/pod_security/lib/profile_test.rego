package spin.lib.pod_security_test

import data.spin.lib.pod_security as pss
import data.spin.lib.pod_security_fixtures as f

test_baseline_by_default if {
	pss.level == "baseline" with input as f.good with data.spin.config as {}
	not pss.restricted with input as f.good with data.spin.config as {}
}

test_site_asks_for_restricted if {
	pss.restricted with input as f.good with data.spin.config as {"pod_security": "restricted"}
}

test_project_asks_for_restricted if {
	pss.restricted with input as f.good with data.spin.config as {"pod_security_projects": {"astro": "restricted"}}
	not pss.restricted with input as f.good with data.spin.config as {"pod_security_projects": {"climate": "restricted"}}
}

test_project_entry_overrides_the_site if {
	not pss.restricted with input as f.good
		with data.spin.config as {"pod_security": "restricted", "pod_security_projects": {"astro": "baseline"}}
}

test_unknown_level_is_restricted_and_reported if {
	cfg := {"pod_security": "restrictd"}
	pss.restricted with input as f.good with data.spin.config as cfg
	contains(pss.reason, "restrictd") with input as f.good with data.spin.config as cfg
}

test_template_metadata_of_a_deployment if {
	pss.pod_meta == {"annotations": {"a": "b"}} with input as f.deployment({"containers": []}, {"a": "b"})
	pss.pod_meta_pointer == "/spec/template/metadata" with input as f.deployment({"containers": []}, {"a": "b"})
}
