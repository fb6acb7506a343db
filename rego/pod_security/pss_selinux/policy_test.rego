package spin.rules.pss_selinux_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_selinux

test_custom_type_denied if {
	some v in pss_selinux.deny with input as f.one({"seLinuxOptions": {"type": "spc_t"}})
	v.path == "/spec/containers/0/securityContext/seLinuxOptions/type"
}

test_user_and_role_denied_on_the_pod if {
	paths := {v.path | some v in pss_selinux.deny} with input as f.pod({"securityContext": {"seLinuxOptions": {"user": "u", "role": "r"}}, "containers": []})
	paths == {"/spec/securityContext/seLinuxOptions/user", "/spec/securityContext/seLinuxOptions/role"}
}

test_container_types_and_level_allowed if {
	count(pss_selinux.deny) == 0 with input as f.one({"seLinuxOptions": {"type": "container_engine_t", "level": "s0:c1"}})
}
