# pss-selinux (Pod Security Standards, baseline): no custom SELinux user or role,
# and only the container types.
package spin.rules.pss_selinux

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-selinux",
	"title": "No custom SELinux options",
	"profile": "baseline",
	"description": "Refuses seLinuxOptions.user or .role, and any .type but container_t, container_init_t, container_kvm_t or container_engine_t, on the pod or any container.",
}

allowed_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# {who, options, pointer} for every place seLinuxOptions is set.
settings contains {"who": "the pod", "options": pss.pod_sc.seLinuxOptions, "pointer": sprintf("%s/seLinuxOptions", [pss.pod_sc_pointer])}

settings contains s if {
	some entry in workload.containers
	options := pss.sc(entry).seLinuxOptions
	s := {"who": sprintf("container %q", [entry.container.name]), "options": options, "pointer": sprintf("%s/securityContext/seLinuxOptions", [entry.path])}
}

deny contains violation if {
	some s in settings
	value := object.get(s.options, "type", "")
	not value in allowed_types
	violation := {
		"rule": "pss-selinux",
		"message": sprintf("%s sets SELinux type %q; only %v are allowed. Remove it.", [s.who, value, concat(", ", sort(allowed_types - {""}))]),
		"path": sprintf("%s/type", [s.pointer]),
	}
}

deny contains violation if {
	some s in settings
	some field in ["user", "role"]
	value := object.get(s.options, field, "")
	value != ""
	violation := {
		"rule": "pss-selinux",
		"message": sprintf("%s sets SELinux %s %q; a custom SELinux %s is not allowed. Remove it.", [s.who, field, value, field]),
		"path": sprintf("%s/%s", [s.pointer, field]),
	}
}
