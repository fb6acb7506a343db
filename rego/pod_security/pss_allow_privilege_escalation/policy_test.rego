package spin.rules.pss_allow_privilege_escalation_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_allow_privilege_escalation as rule

test_unset_denied_under_restricted if {
	some v in rule.deny with input as f.one({}) with data.spin.config as f.restricted
	v.path == "/spec/containers/0/securityContext/allowPrivilegeEscalation"
	contains(v.message, "no-new-privileges")
}

test_true_denied_under_restricted if {
	count(rule.deny) == 1 with input as f.one({"allowPrivilegeEscalation": true}) with data.spin.config as f.restricted
}

test_false_allowed if {
	count(rule.deny) == 0 with input as f.good with data.spin.config as f.restricted
}

test_not_applied_under_baseline if {
	count(rule.deny) == 0 with input as f.one({}) with data.spin.config as {"pod_security": "baseline"}
}
