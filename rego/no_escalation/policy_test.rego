package spin.rules.no_escalation_test

import data.spin.rules.no_escalation
import data.spin.test.fixtures as f

test_escalation_true_is_denied if {
	some v in no_escalation.deny with input as f.one({"securityContext": {"allowPrivilegeEscalation": true}}, {})
	v.rule == "no-escalation"
	v.path == "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation"
}

test_unset_is_patched_to_false_creating_the_context if {
	ops := no_escalation.patch with input as f.one({}, {})
	ops == {
		{"op": "add", "path": "/spec/template/spec/containers/0/securityContext", "value": {}},
		{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation", "value": false},
	}
	count(no_escalation.deny) == 0 with input as f.one({}, {})
}

test_existing_context_gets_only_the_field if {
	ops := no_escalation.patch with input as f.one({"securityContext": {"runAsUser": 1001}}, {})
	ops == {{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation", "value": false}}
}

test_false_is_allowed_unpatched if {
	inp := f.one({"securityContext": {"allowPrivilegeEscalation": false}}, {})
	count(no_escalation.deny) == 0 with input as inp
	count(no_escalation.patch) == 0 with input as inp
}

test_ephemeral_container_is_checked if {
	obj := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {
		"containers": [f.container({"securityContext": {"allowPrivilegeEscalation": false}})],
		"ephemeralContainers": [{"name": "debug", "image": "x", "securityContext": {"allowPrivilegeEscalation": true}}],
	}}
	some v in no_escalation.deny with input as f.request(obj)
	v.path == "/spec/ephemeralContainers/0/securityContext/allowPrivilegeEscalation"
}
