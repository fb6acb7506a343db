package spin.rules.resources_test

import data.spin.rules.resources
import data.spin.test.fixtures as f

limits(l) := f.one({"resources": {"limits": l}}, {})

test_missing_limits_are_patched_from_the_defaults if {
	ops := resources.patch with input as f.one({}, {})
	ops == {
		{"op": "add", "path": "/spec/template/spec/containers/0/resources", "value": {}},
		{"op": "add", "path": "/spec/template/spec/containers/0/resources/limits", "value": {}},
		{"op": "add", "path": "/spec/template/spec/containers/0/resources/limits/cpu", "value": "1"},
		{"op": "add", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": "1Gi"},
	}
}

test_only_the_missing_limit_is_patched if {
	ops := resources.patch with input as limits({"cpu": "500m"})
	ops == {{"op": "add", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": "1Gi"}}
}

test_within_the_maxima_is_allowed if {
	count(resources.deny) == 0 with input as limits({"cpu": "8", "memory": "32Gi"})
	count(resources.deny) == 0 with input as limits({"cpu": 2, "memory": "512Mi"})
}

test_above_the_maxima_is_denied if {
	some v in resources.deny with input as limits({"cpu": "8500m", "memory": "1Gi"})
	v.rule == "resources"
	v.path == "/spec/template/spec/containers/0/resources/limits/cpu"
	count(resources.deny) == 1 with input as limits({"cpu": "1", "memory": "33Gi"})
}

test_requests_above_the_maxima_are_denied if {
	some v in resources.deny with input as f.one({"resources": {"requests": {"memory": "64Gi"}}}, {})
	v.path == "/spec/template/spec/containers/0/resources/requests/memory"
}

test_a_quantity_that_is_not_one_is_denied if {
	some v in resources.deny with input as limits({"cpu": "lots"})
	contains(v.message, "not a quantity")
}
