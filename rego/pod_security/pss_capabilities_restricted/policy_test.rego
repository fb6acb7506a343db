package spin.rules.pss_capabilities_restricted_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_capabilities_restricted as rule

test_missing_drop_all_denied if {
	some v in rule.deny with input as f.one({"capabilities": {"drop": ["NET_RAW"]}}) with data.spin.config as f.restricted
	v.path == "/spec/containers/0/securityContext/capabilities/drop"
}

test_adding_more_than_net_bind_service_denied if {
	some v in rule.deny with input as f.one({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}) with data.spin.config as f.restricted
	v.path == "/spec/containers/0/securityContext/capabilities/add/1"
}

test_drop_all_add_net_bind_service_allowed if {
	count(rule.deny) == 0 with input as f.one({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}) with data.spin.config as f.restricted
}
