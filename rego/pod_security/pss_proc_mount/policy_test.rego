package spin.rules.pss_proc_mount_test

import data.spin.lib.pod_security_fixtures as f
import data.spin.rules.pss_proc_mount

unmasked(host_users) := f.pod({"hostUsers": host_users, "initContainers": [{"name": "i", "securityContext": {"procMount": "Unmasked"}}]})

test_unmasked_denied if {
	some v in pss_proc_mount.deny with input as unmasked(true)
	v.path == "/spec/initContainers/0/securityContext/procMount"
}

test_unmasked_allowed_in_a_user_namespace if {
	count(pss_proc_mount.deny) == 0 with input as unmasked(false)
}

test_default_allowed if {
	count(pss_proc_mount.deny) == 0 with input as f.one({"procMount": "Default"})
}
