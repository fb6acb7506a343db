# pss-capabilities-baseline (Pod Security Standards, baseline): added capabilities
# stay within the runtime's default set, spelled exactly as Kubernetes spells them.
#
# The site's own `capabilities` rule may allow less (its allowlist) and reads
# names leniently; this one is the floor that holds whatever the site data says.
# Where the site rule already refuses the same entry, this one stays silent, so a
# user sees one refusal per field.
package spin.rules.pss_capabilities_baseline

import data.spin.lib.workload

refused_by_site := {v.path | some v in data.spin.rules.capabilities.deny}

meta := {
	"id": "pss-capabilities-baseline",
	"title": "Added capabilities within the default set",
	"profile": "baseline",
	"description": "Refuses capabilities.add entries outside AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT (exact spelling).",
}

default_set := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains violation if {
	some entry in workload.containers
	some i, cap in object.get(entry.container, ["securityContext", "capabilities", "add"], [])
	not cap in default_set
	path := sprintf("%s/securityContext/capabilities/add/%d", [entry.path, i])
	not path in refused_by_site
	violation := {
		"rule": "pss-capabilities-baseline",
		"message": sprintf("container %q adds capability %v, outside the default set of the Pod Security Standards (names are written without CAP_, in capitals, e.g. CHOWN); remove it", [entry.container.name, cap]),
		"path": path,
	}
}
