# pss-apparmor (Pod Security Standards, baseline): the AppArmor profile must not
# be turned off or replaced by anything but a runtime default or a local profile.
package spin.rules.pss_apparmor

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-apparmor",
	"title": "AppArmor not unconfined",
	"profile": "baseline",
	"description": "Refuses appArmorProfile.type other than RuntimeDefault or Localhost, and container.apparmor.security.beta.kubernetes.io/* annotations other than runtime/default or localhost/*.",
}

annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

allowed_types := {"RuntimeDefault", "Localhost"}

allowed_annotation(value) if value == ""

allowed_annotation(value) if value == "runtime/default"

allowed_annotation(value) if startswith(value, "localhost/")

deny contains violation if {
	some key, value in object.get(pss.pod_meta, "annotations", {})
	startswith(key, annotation_prefix)
	not allowed_annotation(value)
	violation := {
		"rule": "pss-apparmor",
		"message": sprintf("annotation %s=%q turns AppArmor off for the container; use runtime/default or localhost/<profile>, or remove it", [key, value]),
		"path": sprintf("%s/annotations/%s", [pss.pod_meta_pointer, replace(replace(key, "~", "~0"), "/", "~1")]),
	}
}

deny contains violation if {
	profile := pss.pod_sc.appArmorProfile
	not object.get(profile, "type", "") in allowed_types
	violation := {
		"rule": "pss-apparmor",
		"message": sprintf("the pod sets appArmorProfile type %v; use RuntimeDefault or Localhost, or remove it", [object.get(profile, "type", "(none)")]),
		"path": sprintf("%s/appArmorProfile/type", [pss.pod_sc_pointer]),
	}
}

deny contains violation if {
	some entry in workload.containers
	profile := pss.sc(entry).appArmorProfile
	not object.get(profile, "type", "") in allowed_types
	violation := {
		"rule": "pss-apparmor",
		"message": sprintf("container %q sets appArmorProfile type %v; use RuntimeDefault or Localhost, or remove it", [entry.container.name, object.get(profile, "type", "(none)")]),
		"path": sprintf("%s/securityContext/appArmorProfile/type", [entry.path]),
	}
}
