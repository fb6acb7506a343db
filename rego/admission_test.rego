package spin.admission_test

import data.spin.admission
import data.spin.test.fixtures as f

# no-escalation and uid-mapping both write under a container's missing securityContext:
# the aggregate adds that parent once, before every child, so neither overwrites the other.
test_rules_sharing_a_parent_add_it_once_and_first if {
	ops := admission.patch with input as f.mounting("/global/cfs/projects/astro", false)
	parent := "/spec/template/spec/containers/0/securityContext"
	[i] := [k | some k, op in ops; op.path == parent]
	every j, child in ops {
		child_after(j, i, child.path, parent)
	}
	count([op | some op in ops; startswith(op.path, concat("", [parent, "/"]))]) >= 2
}

child_after(_, _, path, parent) if not startswith(path, concat("", [parent, "/"]))

child_after(j, i, _, _) if j > i

test_a_denial_names_its_rule_and_path if {
	some v in admission.deny with input as f.one({"securityContext": {"privileged": true}}, {})
	v == {"rule": "no-privileged", "path": "/spec/template/spec/containers/0/securityContext/privileged", "message": v.message}
}
