# capabilities: containers may add only the site's allowlist; some are never allowed.
package spin.rules.capabilities

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "capabilities",
	"title": "Added capabilities within the site allowlist",
	"profile": "site",
	"description": "Refuses adding a Linux capability outside the site allowlist, and beside a global file system mount any outside global_fs.capabilities (default NET_BIND_SERVICE); ALL, SYS_ADMIN and NET_ADMIN are refused whatever the allowlist says.",
}

never := {"ALL", "SYS_ADMIN", "NET_ADMIN"}

# "cap_sys_admin" and "SYS_ADMIN" name the same capability.
canonical(c) := trim_prefix(upper(c), "CAP_")

deny contains violation if {
	some entry in workload.containers
	some i, cap in object.get(entry.container, ["securityContext", "capabilities", "add"], [])
	name := canonical(cap)
	not allowed(name)
	violation := {
		"rule": "capabilities",
		"message": sprintf("container %q adds capability %v, which this site does not allow; remove it (allowed: %v)", [entry.name, cap, concat(", ", sort(site.capabilities - never))]),
		"path": sprintf("%s/securityContext/capabilities/add/%d", [entry.path, i]),
	}
}

allowed(name) if {
	not name in never
	name in site.capabilities
}

# Beside the global file system only the site's short list (default NET_BIND_SERVICE):
# podman 4.3 makes added capabilities effective and ambient for the mapped non-root user,
# who with DAC_OVERRIDE, CHOWN, FOWNER, SETUID or SETGID reads other members' 0600 files
# and creates files as other uids.
deny contains violation if {
	workload.mounts_global
	some entry in workload.containers
	some i, cap in object.get(entry.container, ["securityContext", "capabilities", "add"], [])
	name := canonical(cap)
	allowed(name)
	not name in site.global_fs_capabilities
	violation := {
		"rule": "capabilities",
		"message": sprintf("container %q adds capability %v beside a global file system mount, where it would act on other members' files; remove it (allowed there: %v)", [entry.name, cap, concat(", ", sort(site.global_fs_capabilities))]),
		"path": sprintf("%s/securityContext/capabilities/add/%d", [entry.path, i]),
	}
}
