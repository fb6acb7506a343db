package spin.rules.capabilities_test

import data.spin.rules.capabilities
import data.spin.test.fixtures as f

adding(caps) := f.one({"securityContext": {"capabilities": {"add": caps}}}, {})

test_allowlisted_capability_is_allowed if {
	count(capabilities.deny) == 0 with input as adding(["NET_BIND_SERVICE", "chown", "CAP_KILL"])
}

test_capability_outside_the_allowlist_is_denied if {
	some v in capabilities.deny with input as adding(["CHOWN", "SYS_PTRACE"])
	v.rule == "capabilities"
	v.path == "/spec/template/spec/containers/0/securityContext/capabilities/add/1"
	contains(v.message, "SYS_PTRACE")
}

test_never_allowed_even_if_the_site_lists_them if {
	site := {"capabilities": ["ALL", "SYS_ADMIN", "NET_ADMIN", "CHOWN"]}
	count(capabilities.deny) == 3 with input as adding(["ALL", "cap_sys_admin", "NET_ADMIN"]) with data.spin.config as site
}

test_init_container_is_checked if {
	obj := f.deployment([f.container({})], {"initContainers": [{"name": "init", "image": "x", "securityContext": {"capabilities": {"add": ["SYS_TIME"]}}}]})
	some v in capabilities.deny with input as f.request(obj)
	v.path == "/spec/template/spec/initContainers/0/securityContext/capabilities/add/0"
}

adding_with_global(caps) := f.request(f.deployment(
	[f.container({"securityContext": {"capabilities": {"add": caps}}, "volumeMounts": [{"name": "h", "mountPath": "/h"}]})],
	{"volumes": [{"name": "h", "hostPath": {"path": "/global/homes/a/alice"}}]},
))

test_beside_global_fs_only_net_bind_service if {
	denied := {v.path | some v in capabilities.deny} with input as adding_with_global(["NET_BIND_SERVICE", "DAC_OVERRIDE", "CHOWN", "FOWNER", "SETUID", "SETGID"])
	denied == {sprintf("/spec/template/spec/containers/0/securityContext/capabilities/add/%d", [i]) | some i in numbers.range(1, 5)}
}

test_beside_global_fs_the_site_names_the_list if {
	count(capabilities.deny) == 0 with input as adding_with_global(["CHOWN"]) with data.spin.config as {"global_fs": {"capabilities": ["CHOWN"]}}
}

test_without_global_fs_the_allowlist_holds if {
	count(capabilities.deny) == 0 with input as adding(["DAC_OVERRIDE", "CHOWN"])
}
